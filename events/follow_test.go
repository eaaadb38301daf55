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
						if err := <-done; err != nil {
							t.Fatalf("Follow returned %v once its ctx ended, want nil", err)
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

func TestFollowerEndsWithAnErrorWhenTheBusCloses(t *testing.T) {
	bus := NewMemory(Options{})
	f, err := NewFollower(context.Background(), bus, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_ = bus.Close()
	if _, err := f.Next(); err != ErrClosed {
		t.Fatalf("Next after the bus closed = %v, want ErrClosed", err)
	}
}

func TestFollowerEndsWithItsContext(t *testing.T) {
	bus := NewMemory(Options{})
	defer bus.Close()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := NewFollower(ctx, bus, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	if _, err := f.Next(); err != context.Canceled {
		t.Fatalf("Next after ctx ended = %v, want context.Canceled", err)
	}
}

// TestSubscribeByKindIsNotDroppedForOtherKinds: a follower of number status
// events keeps up through a flood of message status events it never sees.
func TestSubscribeByKindIsNotDroppedForOtherKinds(t *testing.T) {
	for _, kind := range busKinds {
		t.Run(kind.name, func(t *testing.T) {
			bus := kind.open(t, Options{BufferSize: 4})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			topic := "kinds-" + apiws.NewID("t")
			sub, err := bus.Subscribe(ctx, topic, apiws.EventNumberStatus)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			all, err := bus.Subscribe(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			defer all.Close()
			var flood []Published
			for i := range 20 {
				flood = append(flood, Published{Topic: topic, Event: apiws.Event{Kind: apiws.EventLogged, Cursor: int64(i + 1)}})
			}
			flood = append(flood, Published{Topic: topic, Event: apiws.Event{Kind: apiws.EventNumberStatus, NumberID: "num_1"}})
			if err := bus.PublishBatch(ctx, flood); err != nil {
				t.Fatal(err)
			}
			select {
			case ev, ok := <-sub.C():
				if !ok || ev.Kind != apiws.EventNumberStatus || ev.NumberID != "num_1" {
					t.Fatalf("got %+v (open %v), err %v; want the number status event", ev, ok, sub.Err())
				}
			case <-ctx.Done():
				t.Fatal("the number status event never came")
			}
			// The subscriber of every kind fell behind and was dropped.
			for range all.C() {
			}
			if all.Err() != ErrSlowSubscriber {
				t.Fatalf("subscriber of every kind ended with %v, want ErrSlowSubscriber", all.Err())
			}
		})
	}
}

// waitSubscribers waits until the bus has n subscribers.
func waitSubscribers(t *testing.T, bus *Memory, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d subscribers", n), func() bool { return bus.Stats().Subscribers == n })
}
