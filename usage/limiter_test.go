package usage

import (
	"context"
	"testing"
	"time"

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
