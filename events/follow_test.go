package events

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apiws/apiws"
)

func TestFollowResubscribesAfterFallingBehind(t *testing.T) {
	bus := NewMemory(Options{BufferSize: 1})
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	got := make(chan apiws.Event, 100)
	done := make(chan error, 1)
	go func() {
		first := true
		done <- Follow(ctx, bus, "t", func(ev apiws.Event) {
			if first {
				first = false
				<-release // fall behind while events pile up
			}
			got <- ev
		})
	}()
	waitSubscribers(t, bus, 1)
	for i := 0; i < 5; i++ {
		if err := bus.Publish(ctx, "t", apiws.Event{Kind: apiws.EventOutbox, Cursor: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-got:
			if ev.Kind == apiws.EventResync {
				// Following again: a later event arrives.
				waitSubscribers(t, bus, 1)
				_ = bus.Publish(ctx, "t", apiws.Event{Kind: apiws.EventOutbox, Cursor: 99})
				for ev := range got {
					if ev.Cursor == 99 {
						cancel()
						if err := <-done; err != context.Canceled {
							t.Fatalf("Follow returned %v", err)
						}
						return
					}
				}
			}
		case <-deadline:
			t.Fatal("no resync after falling behind")
		}
	}
}

// waitSubscribers waits until the bus has n subscribers.
func waitSubscribers(t *testing.T, bus *Memory, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d subscribers", n), func() bool { return bus.Stats().Subscribers == n })
}
