package events

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/apiws/apiws"
)

// busKind builds one Bus implementation for the shared tests.
type busKind struct {
	name string
	open func(tb testing.TB, opts Options) testBus
	// brokerSubscribers reports how many connections the broker has
	// subscribed to topic; nil for a bus without a broker.
	brokerSubscribers func(tb testing.TB, topic string) int64
}

// testBus is a Bus with the Stats both implementations offer.
type testBus interface {
	Bus
	Stats() Stats
}

var busKinds = []busKind{
	{
		name: "memory",
		open: func(tb testing.TB, opts Options) testBus {
			b := NewMemory(opts)
			tb.Cleanup(func() { b.Close() })
			return b
		},
	},
	{
		name: "redis",
		open: func(tb testing.TB, opts Options) testBus {
			b := NewRedis(mustRedisClient(tb), opts)
			tb.Cleanup(func() { b.Close() })
			return b
		},
		brokerSubscribers: func(tb testing.TB, topic string) int64 {
			n, err := mustRedisClient(tb).PubSubNumSub(context.Background(), channelPrefix+topic).Result()
			if err != nil {
				tb.Fatalf("PUBSUB NUMSUB: %v", err)
			}
			return n[channelPrefix+topic]
		},
	},
}

const waitFor = 5 * time.Second

func testEvent(i int) apiws.Event {
	return apiws.Event{Kind: apiws.EventLogged, AccountID: "acc_1", Cursor: int64(i), Data: []byte(fmt.Sprintf(`{"i":%d}`, i))}
}

func mustSubscribe(tb testing.TB, ctx context.Context, b Bus, topic string) *Subscription {
	tb.Helper()
	s, err := b.Subscribe(ctx, topic)
	if err != nil {
		tb.Fatalf("Subscribe(%q): %v", topic, err)
	}
	tb.Cleanup(s.Close)
	return s
}

func mustPublish(tb testing.TB, b Bus, topic string, ev apiws.Event) {
	tb.Helper()
	if err := b.Publish(context.Background(), topic, ev); err != nil {
		tb.Fatalf("Publish(%q): %v", topic, err)
	}
}

// mustReceive returns the next event of s, failing after waitFor.
func mustReceive(tb testing.TB, s *Subscription) apiws.Event {
	tb.Helper()
	select {
	case ev, ok := <-s.C():
		if !ok {
			tb.Fatalf("subscription ended: %v", s.Err())
		}
		return ev
	case <-time.After(waitFor):
		tb.Fatalf("no event within %v", waitFor)
	}
	panic("unreachable")
}

func mustReceiveCursor(tb testing.TB, s *Subscription, cursor int) {
	tb.Helper()
	ev := mustReceive(tb, s)
	want := testEvent(cursor)
	if ev.Kind != want.Kind || ev.Cursor != want.Cursor || ev.AccountID != want.AccountID || string(ev.Data) != string(want.Data) {
		tb.Fatalf("got event %+v, want %+v", ev, want)
	}
}

// mustEnd waits for s's channel to close, draining it, and returns Err.
func mustEnd(tb testing.TB, s *Subscription) error {
	tb.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case _, ok := <-s.C():
			if !ok {
				return s.Err()
			}
		case <-deadline:
			tb.Fatalf("subscription still open after %v", waitFor)
		}
	}
}

// mustBeQuiet fails if s receives anything for a short while.
func mustBeQuiet(tb testing.TB, s *Subscription) {
	tb.Helper()
	select {
	case ev, ok := <-s.C():
		tb.Fatalf("unexpected receive: %+v (open=%v)", ev, ok)
	case <-time.After(100 * time.Millisecond):
	}
}

// eventually polls cond until it holds or waitFor passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func forEachBus(t *testing.T, test func(t *testing.T, k busKind)) {
	for _, k := range busKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

func TestBus_DeliversToSubscribersOfTopic(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		topic := uniqueTopic(t)
		s := mustSubscribe(t, t.Context(), b, topic)
		mustPublish(t, b, topic, testEvent(1))
		mustReceiveCursor(t, s, 1)
	})
}

func TestBus_TopicsAreIsolated(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		a, c := uniqueTopic(t), uniqueTopic(t)
		sa := mustSubscribe(t, t.Context(), b, a)
		sc := mustSubscribe(t, t.Context(), b, c)
		mustPublish(t, b, a, testEvent(1))
		mustPublish(t, b, c, testEvent(2))
		mustReceiveCursor(t, sa, 1)
		mustReceiveCursor(t, sc, 2)
		mustBeQuiet(t, sa)
		mustBeQuiet(t, sc)
	})
}

// A batch reaches the subscribers of its topics in order, and resyncs
// them when the broker cannot take it.
func TestBus_PublishBatch(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		a, c := uniqueTopic(t), uniqueTopic(t)
		sa := mustSubscribe(t, t.Context(), b, a)
		sc := mustSubscribe(t, t.Context(), b, c)
		batch := []Published{{a, testEvent(1)}, {c, testEvent(2)}, {a, testEvent(3)}}
		if err := b.PublishBatch(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
		mustReceiveCursor(t, sa, 1)
		mustReceiveCursor(t, sa, 3)
		mustReceiveCursor(t, sc, 2)
		mustBeQuiet(t, sa)
		mustBeQuiet(t, sc)
		if err := b.PublishBatch(t.Context(), []Published{{a, apiws.Event{Kind: apiws.EventResync}}}); err == nil {
			t.Fatal("a batch with an EventResync was published")
		}
	})
}

func TestBus_EverySubscriberGetsEveryEventInOrder(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		const n = 100
		b := k.open(t, Options{BufferSize: n})
		topic := uniqueTopic(t)
		subs := []*Subscription{
			mustSubscribe(t, t.Context(), b, topic),
			mustSubscribe(t, t.Context(), b, topic),
			mustSubscribe(t, t.Context(), b, topic),
		}
		for i := range n {
			mustPublish(t, b, topic, testEvent(i))
		}
		for _, s := range subs {
			for i := range n {
				mustReceiveCursor(t, s, i)
			}
		}
	})
}

func TestBus_PublisherMayReuseData(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		topic := uniqueTopic(t)
		s := mustSubscribe(t, t.Context(), b, topic)
		ev := testEvent(1)
		mustPublish(t, b, topic, ev)
		copy(ev.Data, "XXXX")
		mustReceiveCursor(t, s, 1)
	})
}

func TestBus_CloseEndsSubscriptionAndLastOneOutUnsubscribes(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		topic := uniqueTopic(t)
		s1 := mustSubscribe(t, t.Context(), b, topic)
		s2 := mustSubscribe(t, t.Context(), b, topic)
		if k.brokerSubscribers != nil {
			if n := k.brokerSubscribers(t, topic); n != 1 {
				t.Fatalf("broker subscribers = %d, want 1 (one per process)", n)
			}
		}

		s1.Close()
		if err := mustEnd(t, s1); err != nil {
			t.Fatalf("Err after Close = %v, want nil", err)
		}
		s1.Close() // idempotent
		if st := b.Stats(); st.Topics != 1 || st.Subscribers != 1 {
			t.Fatalf("after first Close: %+v, want 1 topic, 1 subscriber", st)
		}
		if k.brokerSubscribers != nil {
			if n := k.brokerSubscribers(t, topic); n != 1 {
				t.Fatalf("broker subscribers after first Close = %d, want 1", n)
			}
		}
		mustPublish(t, b, topic, testEvent(1))
		mustReceiveCursor(t, s2, 1)

		s2.Close()
		if st := b.Stats(); st.Topics != 0 || st.Subscribers != 0 {
			t.Fatalf("after last Close: %+v, want nothing followed", st)
		}
		if k.brokerSubscribers != nil {
			eventually(t, "broker unsubscribed", func() bool { return k.brokerSubscribers(t, topic) == 0 })
		}
	})
}

func TestBus_ContextEndEndsSubscription(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		topic := uniqueTopic(t)
		ctx, cancel := context.WithCancel(t.Context())
		s := mustSubscribe(t, ctx, b, topic)
		keep := mustSubscribe(t, t.Context(), b, topic)
		cancel()
		if err := mustEnd(t, s); err != nil {
			t.Fatalf("Err after ctx end = %v, want nil", err)
		}
		eventually(t, "released", func() bool { return b.Stats().Subscribers == 1 })
		mustPublish(t, b, topic, testEvent(1))
		mustReceiveCursor(t, keep, 1)

		keep.Close()
		eventually(t, "topic forgotten", func() bool { return b.Stats().Topics == 0 })
		if k.brokerSubscribers != nil {
			eventually(t, "broker unsubscribed", func() bool { return k.brokerSubscribers(t, topic) == 0 })
		}
	})
}

func TestBus_SubscribeWithEndedContextFails(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := b.Subscribe(ctx, uniqueTopic(t)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Subscribe = %v, want context.Canceled", err)
		}
	})
}

func TestBus_SlowSubscriberIsDroppedFastOneKeepsEverything(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		const size = 4
		b := k.open(t, Options{BufferSize: size})
		topic := uniqueTopic(t)
		slow := mustSubscribe(t, t.Context(), b, topic)
		fast := mustSubscribe(t, t.Context(), b, topic)
		// The fast one reads each event before the next is published, so
		// it never falls behind however slow the test machine is.
		for i := range 3 * size {
			mustPublish(t, b, topic, testEvent(i))
			mustReceiveCursor(t, fast, i)
		}
		for i := range size {
			mustReceiveCursor(t, slow, i) // what was buffered before the drop
		}
		if err := mustEnd(t, slow); !errors.Is(err, ErrSlowSubscriber) {
			t.Fatalf("slow Err = %v, want ErrSlowSubscriber", err)
		}
		if st := b.Stats(); st.Dropped != 1 || st.Subscribers != 1 {
			t.Fatalf("Stats = %+v, want 1 dropped, 1 subscriber", st)
		}
		// The dropped one still holds the topic until closed.
		slow.Close()
		if err := slow.Err(); !errors.Is(err, ErrSlowSubscriber) {
			t.Fatalf("slow Err after Close = %v, want ErrSlowSubscriber", err)
		}
		mustPublish(t, b, topic, testEvent(100))
		mustReceiveCursor(t, fast, 100)
	})
}

func TestBus_CloseEndsEverything(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		topic := uniqueTopic(t)
		s := mustSubscribe(t, t.Context(), b, topic)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := mustEnd(t, s); err != nil {
			t.Fatalf("Err after bus Close = %v, want nil", err)
		}
		s.Close()
		if err := b.Publish(t.Context(), topic, testEvent(1)); !errors.Is(err, ErrClosed) {
			t.Fatalf("Publish after Close = %v, want ErrClosed", err)
		}
		if _, err := b.Subscribe(t.Context(), topic); !errors.Is(err, ErrClosed) {
			t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
		}
	})
}

func TestBus_ResyncCannotBePublished(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		b := k.open(t, Options{})
		if err := b.Publish(t.Context(), uniqueTopic(t), apiws.Event{Kind: apiws.EventResync}); err == nil {
			t.Fatal("Publish(EventResync) succeeded, want an error")
		}
	})
}

func TestBus_Ping(t *testing.T) {
	forEachBus(t, func(t *testing.T, k busKind) {
		if err := k.open(t, Options{}).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
}
