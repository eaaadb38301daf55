package messaging

import (
	"context"
	"time"
)

// retry calls fn until it succeeds, at most attempts times, waiting first
// between the first two calls and twice as long before each next one. It
// stops waiting when ctx ends. It returns nil once fn succeeded, or fn's
// last error.
func retry(ctx context.Context, attempts int, first time.Duration, fn func() error) error {
	wait := first
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt >= attempts || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait *= 2
	}
}
