package eventlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// streamFixture is an event log on a real database and the in-process
// bus, with an account whose events the test writes and publishes in the
// order it chooses.
type streamFixture struct {
	t   *testing.T
	s   *Log
	db  *storage.DB
	bus *events.Memory
	acc string
}

func newStreamFixture(t *testing.T, db *storage.DB) *streamFixture {
	acc := storagetest.Account(t, db)
	bus := events.NewMemory(events.Options{})
	s, err := New(db, bus, make([]byte, 32), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		_ = bus.Close()
	})
	return &streamFixture{t: t, s: s, db: db, bus: bus, acc: acc}
}

// write logs n QUEUED events of number and returns them, unpublished.
func (fx *streamFixture) write(number string, n int) []*apiws.LogEvent {
	var evs []*apiws.LogEvent
	for range n {
		now := time.Now().UTC()
		m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: fx.acc, NumberID: number, Direction: apiws.Outbound,
			Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
		ev, err := fx.db.QueueMessage(context.Background(), m, []byte("x"))
		if err != nil {
			fx.t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func (fx *streamFixture) publish(evs ...*apiws.LogEvent) {
	for _, ev := range evs {
		data, _ := json.Marshal(published{LogEvent: ev})
		err := fx.bus.Publish(context.Background(), fx.acc, apiws.Event{Kind: apiws.EventLogged, AccountID: fx.acc, NumberID: ev.NumberID, Cursor: ev.Seq, Data: data})
		if err != nil {
			fx.t.Fatal(err)
		}
	}
}

// receive reads n events and checks their cursors are want, in order.
func receive(t *testing.T, ch <-chan *apiws.LogEvent, want ...int64) {
	t.Helper()
	for _, w := range want {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended; want cursor %d", w)
			}
			if ev.Seq != w {
				t.Fatalf("cursor %d; want %d", ev.Seq, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event; want cursor %d", w)
		}
	}
}

func seqs(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestAccountStreamOrdersAndFillsGaps(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		all, err := fx.s.Follow(ctx, fx.acc, Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		two, err := fx.s.Follow(ctx, fx.acc, Filter{NumberID: "num_2"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs := fx.write("num_1", 3)
		evs = append(evs, fx.write("num_2", 1)...)
		evs = append(evs, fx.write("num_1", 1)...)
		// Out of order, and cursor 4 never published: the log fills it.
		fx.publish(evs[1], evs[2], evs[0], evs[4])
		receive(t, all, 1, 2, 3, 4, 5)
		receive(t, two, 4)

		// A follower joining with an old cursor reads the log, then lives.
		late, err := fx.s.Follow(ctx, fx.acc, Filter{}, ptr(int64(2)))
		if err != nil {
			t.Fatal(err)
		}
		receive(t, late, 3, 4, 5)
		fx.publish(fx.write("num_1", 1)...)
		receive(t, late, 6)
		receive(t, all, 6)

		if _, err := fx.s.Follow(ctx, fx.acc, Filter{}, ptr(int64(7))); apiws.ErrorCodeOf(err) != apiws.EINVALID {
			t.Fatalf("a cursor ahead of the log: %v", err)
		}
	})
}

// A follower that does not read falls behind, then gets every event from
// the log, in order, while the others stay live.
func TestAccountStreamSlowFollowerCatchesUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		slow, err := fx.s.Follow(ctx, fx.acc, Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		fast, err := fx.s.Follow(ctx, fx.acc, Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := int64(3 * followerBuffer)
		for _, ev := range fx.write("num_1", int(n)) {
			fx.publish(ev)
			receive(t, fast, ev.Seq)
		}
		receive(t, slow, seqs(1, n)...)
		fx.publish(fx.write("num_1", 1)...)
		receive(t, slow, n+1)
		receive(t, fast, n+1)

		// The last follower gone, the account's stream stops.
		cancel()
		waitNoStreams(t, fx.s)
		for range slow {
		}
	})
}

func ptr[T any](v T) *T { return &v }

// Followers coming and going at once share one stream, and when the last
// one is gone no stream is left running.
func TestAccountStreamsComeAndGo(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if i%3 == 0 {
					cancel() // gone before it starts
				}
				ch, err := fx.s.Follow(ctx, fx.acc, Filter{}, nil)
				if err != nil {
					if ctx.Err() == nil {
						t.Error(err)
					}
					return
				}
				time.Sleep(time.Duration(i%5) * time.Millisecond)
				cancel()
				for range ch {
				}
			})
		}
		wg.Wait()
		waitNoStreams(t, fx.s)
	})
}

// waitNoStreams waits until the service runs no account stream (a
// follower's end releases its stream a moment after its channel closes).
func waitNoStreams(t *testing.T, s *Log) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.streams.mu.Lock()
		left := len(s.streams.m)
		s.streams.mu.Unlock()
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d account streams left after their followers ended", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
