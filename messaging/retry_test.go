package messaging

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetry(t *testing.T) {
	failing := errors.New("write failed")
	tests := []struct {
		name      string
		attempts  int
		failFirst int // calls that fail before one succeeds
		cancel    bool
		wantCalls int
		wantErr   error
	}{
		{"succeeds at once", 5, 0, false, 1, nil},
		{"succeeds on the third call", 5, 2, false, 3, nil},
		{"gives up after the attempts", 3, 10, false, 3, failing},
		{"one attempt", 1, 10, false, 1, failing},
		{"an ended context stops the retries", 5, 10, true, 1, failing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			calls := 0
			err := retry(ctx, tt.attempts, time.Microsecond, func() error {
				calls++
				if calls <= tt.failFirst {
					return failing
				}
				return nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) {
				t.Fatalf("%d calls, error %v; want %d calls, error %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}

// TestRetryWaitsNoLongerThanItsContext: a retry waiting out a long backoff
// returns as soon as its context ends (a shutdown does not wait for it).
func TestRetryWaitsNoLongerThanItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan error, 1)
	go func() {
		done <- retry(ctx, 5, time.Hour, func() error {
			calls++
			return errors.New("down")
		})
	}()
	cancel()
	select {
	case err := <-done:
		if err == nil || calls != 1 {
			t.Fatalf("retry = %v after %d calls; want the error after 1", err, calls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("retry kept waiting its hour-long backoff after its context ended")
	}
}
