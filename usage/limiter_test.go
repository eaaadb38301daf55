package usage

import (
	"context"
	"crypto/rand"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
)

// limiterTest drives a limiter through a burst, a refusal and a recovery,
// moving a fake clock with advance.
func limiterTest(t *testing.T, l apiws.Limiter, advance func(time.Duration)) {
	t.Helper()
	ctx := context.Background()
	lim := apiws.Limit{Rate: 10, Burst: 5}
	for i := 0; i < 5; i++ {
		if ok, _, err := l.Allow(ctx, "k", lim); !ok || err != nil {
			t.Fatalf("event %d of the burst refused: %v", i, err)
		}
	}
	ok, wait, err := l.Allow(ctx, "k", lim)
	if ok || err != nil {
		t.Fatalf("event past the burst allowed (%v)", err)
	}
	if wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("retry after %v; want within one interval (100ms)", wait)
	}
	if ok, _, _ := l.Allow(ctx, "other", lim); !ok {
		t.Fatal("another key was limited")
	}
	advance(wait)
	if ok, _, _ := l.Allow(ctx, "k", lim); !ok {
		t.Fatal("refused after waiting retryAfter")
	}
	if ok, _, _ := l.Allow(ctx, "k", lim); ok {
		t.Fatal("a second event passed right after the recovered one")
	}
}

func TestMemoryLimiter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := NewMemoryLimiter()
	l.now = func() time.Time { return now }
	limiterTest(t, l, func(d time.Duration) { now = now.Add(d) })
}

func TestRedisLimiter(t *testing.T) {
	rdb := mustRedis(t)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	l := NewRedisLimiter(rdb, "test:"+rand.Text()[:12]+":")
	l.now = func() time.Time { return now }
	limiterTest(t, l, func(d time.Duration) { now = now.Add(d) })
}

func TestRedisLimiterOnRedisClock(t *testing.T) {
	l := NewRedisLimiter(mustRedis(t), "test:"+rand.Text()[:12]+":")
	ctx := context.Background()
	lim := apiws.Limit{Rate: 20, Burst: 1}
	if ok, _, err := l.Allow(ctx, "k", lim); !ok || err != nil {
		t.Fatalf("first event refused: %v", err)
	}
	ok, wait, err := l.Allow(ctx, "k", lim)
	if ok || err != nil || wait <= 0 || wait > 50*time.Millisecond {
		t.Fatalf("second event: ok=%v wait=%v err=%v", ok, wait, err)
	}
	time.Sleep(wait)
	if ok, _, err := l.Allow(ctx, "k", lim); !ok || err != nil {
		t.Fatalf("refused after retryAfter: %v", err)
	}
}

// mustRedis returns a client of the test Redis (APIWS_TEST_REDIS_URL),
// failing when it is unreachable: a silent skip would hide the limiter.
func mustRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	u := os.Getenv("APIWS_TEST_REDIS_URL")
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		tb.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("redis at %s is needed (start it or set APIWS_TEST_REDIS_URL): %v", u, err)
	}
	return rdb
}
