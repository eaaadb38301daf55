package events

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
)

func TestRedis_TwoInstancesSeeEachOthersEvents(t *testing.T) {
	client := mustRedisClient(t)
	one, two := NewRedis(client, Options{}), NewRedis(client, Options{})
	t.Cleanup(func() { one.Close(); two.Close() })
	topic := uniqueTopic(t)
	s1 := mustSubscribe(t, t.Context(), one, topic)
	s2 := mustSubscribe(t, t.Context(), two, topic)

	mustPublish(t, one, topic, testEvent(1))
	mustPublish(t, two, topic, testEvent(2))
	for _, s := range []*Subscription{s1, s2} {
		mustReceiveCursor(t, s, 1)
		mustReceiveCursor(t, s, 2)
	}
}

// privateRedis is a redis-server of the test's own, which it may kill and
// restart without disturbing the shared one.
type privateRedis struct {
	tb   testing.TB
	port string
	dir  string
	cmd  *exec.Cmd
}

func startPrivateRedis(tb testing.TB) *privateRedis {
	tb.Helper()
	if skipRedis() {
		tb.Skip("APIWS_TEST_SKIP_REDIS=1")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server is needed to test a Redis restart: %v (or set APIWS_TEST_SKIP_REDIS=1)", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	r := &privateRedis{tb: tb, port: port, dir: tb.TempDir()}
	r.start()
	tb.Cleanup(r.stop)
	return r
}

func (r *privateRedis) addr() string { return "127.0.0.1:" + r.port }

func (r *privateRedis) start() {
	r.tb.Helper()
	r.cmd = exec.Command("redis-server", "--port", r.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.tb.Fatalf("start redis-server: %v", err)
	}
	client := redis.NewClient(&redis.Options{Addr: r.addr(), MaxRetries: -1})
	defer client.Close()
	eventually(r.tb, "private redis up", func() bool {
		return client.Ping(context.Background()).Err() == nil
	})
}

func (r *privateRedis) stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func TestRedis_SurvivesRestart(t *testing.T) {
	srv := startPrivateRedis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.addr()})
	t.Cleanup(func() { client.Close() })
	b := NewRedis(client, Options{})
	t.Cleanup(func() { b.Close() })
	topic := uniqueTopic(t)
	s := mustSubscribe(t, t.Context(), b, topic)
	mustPublish(t, b, topic, testEvent(1))
	mustReceiveCursor(t, s, 1)

	srv.stop()
	t.Run("publish fails in bounded time and resyncs local subscribers", func(t *testing.T) {
		start := time.Now()
		err := b.Publish(t.Context(), topic, testEvent(2))
		if err == nil {
			t.Fatal("Publish with redis down succeeded")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Publish took %v with redis down", d)
		}
		if ev := mustReceive(t, s); ev.Kind != apiws.EventResync {
			t.Fatalf("got %+v after a failed publish, want EventResync", ev)
		}
		if err := b.Ping(t.Context()); err == nil {
			t.Fatal("Ping with redis down succeeded")
		}
	})

	// A topic first followed during the outage is owed a resync too.
	late := uniqueTopic(t)
	sl := mustSubscribe(t, t.Context(), b, late)

	srv.start()
	for _, sub := range []*Subscription{s, sl} {
		if ev := mustReceive(t, sub); ev.Kind != apiws.EventResync {
			t.Fatalf("got %+v after redis came back, want EventResync", ev)
		}
	}
	mustPublish(t, b, topic, testEvent(3))
	mustReceiveCursor(t, s, 3)
	mustPublish(t, b, late, testEvent(4))
	mustReceiveCursor(t, sl, 4)
	mustBeQuiet(t, s)
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("Ping after restart: %v", err)
	}
}
