package events

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// skipRedis reports whether the Redis tests are turned off on purpose.
func skipRedis() bool { return os.Getenv("APIWS_TEST_SKIP_REDIS") == "1" }

// mustRedisClient returns a client of the shared test Redis, failing the test
// when it is unreachable, since a silent skip would hide the Redis bus.
func mustRedisClient(tb testing.TB) *redis.Client {
	tb.Helper()
	if skipRedis() {
		tb.Skip("APIWS_TEST_SKIP_REDIS=1")
	}
	url := os.Getenv("APIWS_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("APIWS_TEST_REDIS_URL %q: %v", url, err)
	}
	client := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		tb.Fatalf("redis at %s is unreachable (%v); start it, point APIWS_TEST_REDIS_URL at one, or set APIWS_TEST_SKIP_REDIS=1", url, err)
	}
	tb.Cleanup(func() { client.Close() })
	return client
}

// uniqueTopic returns a topic no other test run uses, as the shared Redis
// may serve other people at the same time.
func uniqueTopic(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("test-%s-%s", tb.Name(), rand.Text()[:10])
}
