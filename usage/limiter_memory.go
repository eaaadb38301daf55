package usage

import (
	"context"
	"sync"
	"time"

	"github.com/apiws/apiws"
)

// MemoryLimiter is a GCRA limiter held in this process, for the embedded
// single-instance default.
type MemoryLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
	now func() time.Time
	ops int
}

var _ apiws.Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an empty limiter.
func NewMemoryLimiter() *MemoryLimiter {
	return &MemoryLimiter{tat: make(map[string]time.Time), now: time.Now}
}

// Allow implements apiws.Limiter with the generic cell rate algorithm: each
// event pushes the key's theoretical arrival time by one emission interval,
// and an event is refused while that time is more than a burst ahead.
func (l *MemoryLimiter) Allow(_ context.Context, key string, lim apiws.Limit) (bool, time.Duration, error) {
	interval := time.Duration(float64(time.Second) / lim.Rate)
	tolerance := interval * time.Duration(lim.Burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	tat := l.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if wait := next.Sub(now) - tolerance; wait > 0 {
		return false, wait, nil
	}
	l.tat[key] = next
	l.ops++
	if l.ops%4096 == 0 {
		l.sweep(now)
	}
	return true, 0, nil
}

// sweep forgets keys whose arrival time has passed: they are back to a full
// burst, which is the same as never seen.
func (l *MemoryLimiter) sweep(now time.Time) {
	for k, t := range l.tat {
		if t.Before(now) {
			delete(l.tat, k)
		}
	}
}
