package eventlog

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/internal/poll"
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

// follow follows the fixture's account, failing the test if it cannot.
func (fx *streamFixture) follow(ctx context.Context, filter Filter, after *int64) <-chan *apiws.LogEvent {
	fx.t.Helper()
	ch, err := fx.s.Follow(ctx, fx.acc, filter, after)
	if err != nil {
		fx.t.Fatal(err)
	}
	return ch
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
		all := fx.follow(ctx, Filter{}, nil)
		two := fx.follow(ctx, Filter{NumberID: "num_2"}, nil)
		evs := fx.write("num_1", 3)
		evs = append(evs, fx.write("num_2", 1)...)
		evs = append(evs, fx.write("num_1", 1)...)
		// Out of order, and cursor 4 never published: the log fills it.
		fx.publish(evs[1], evs[2], evs[0], evs[4])
		receive(t, all, 1, 2, 3, 4, 5)
		receive(t, two, 4)

		// A follower joining with an old cursor reads the log, then lives.
		late := fx.follow(ctx, Filter{}, ptr(int64(2)))
		receive(t, late, 3, 4, 5)
		fx.publish(fx.write("num_1", 1)...)
		receive(t, late, 6)
		receive(t, all, 6)

		if _, err := fx.s.Follow(ctx, fx.acc, Filter{}, ptr(int64(7))); apiws.ErrorCodeOf(err) != apiws.EINVALID {
			t.Fatalf("a cursor ahead of the log: %v", err)
		}
	})
}

// A follower that does not read falls behind once its channel and its
// spill are full, then gets every event from the log, in order, while the
// others stay live.
func TestAccountStreamSlowFollowerCatchesUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		fx.s.spillLimit = followerBuffer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		slow := fx.follow(ctx, Filter{}, nil)
		fast := fx.follow(ctx, Filter{}, nil)
		n := int64(3 * followerBuffer)
		for _, ev := range fx.write("num_1", int(n)) {
			fx.publish(ev)
			receive(t, fast, ev.Seq)
		}
		receive(t, slow, seqs(1, n)...)
		fx.publish(fx.write("num_1", 1)...)
		receive(t, slow, n+1)
		receive(t, fast, n+1)
		if behind := counted(t, fx.s.behind); behind != 1 {
			t.Fatalf("followers counted behind: %v, want 1", behind)
		}

		// The last follower gone, the account's stream stops.
		cancel()
		waitNoStreams(t, fx.s)
		for range slow {
		}
	})
}

// A burst larger than a follower's channel waits in its spill and reaches
// it whole, in order, once it reads: the events are in no log here, so
// falling behind to read the log would lose them.
func TestAccountStreamSpillsABurst(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		other := fx.follow(ctx, Filter{NumberID: "num_2"}, nil)
		slow := fx.follow(ctx, Filter{NumberID: "num_1"}, nil)
		n := int64(3 * followerBuffer)
		var evs []*apiws.LogEvent
		for seq := int64(1); seq <= n; seq++ {
			number := "num_1"
			if seq%10 == 0 {
				number = "num_2" // not slow's: skipped while it spills
			}
			evs = append(evs, &apiws.LogEvent{AccountID: fx.acc, Seq: seq, Type: apiws.EventTypeMessageStatus,
				NumberID: number, Status: apiws.StatusSent, At: time.Now().UTC()})
		}
		fx.s.Publish(context.Background(), evs...)
		var twos []int64
		for seq := int64(10); seq <= n; seq += 10 {
			twos = append(twos, seq)
		}
		receive(t, other, twos...)
		poll.Until(t, 5*time.Second, "the follower's channel full", func() bool { return len(slow) == followerBuffer })
		var ones []int64
		for seq := int64(1); seq <= n; seq++ {
			if seq%10 != 0 {
				ones = append(ones, seq)
			}
		}
		receive(t, slow, ones...)
		fx.s.Publish(context.Background(), &apiws.LogEvent{AccountID: fx.acc, Seq: n + 1, Type: apiws.EventTypeMessageStatus,
			NumberID: "num_1", Status: apiws.StatusSent, At: time.Now().UTC()})
		receive(t, slow, n+1)
		if behind := counted(t, fx.s.behind); behind != 0 {
			t.Fatalf("followers counted behind: %v, want 0", behind)
		}
	})
}

// A follower in the process that publishes gets the events at once, as a
// follower elsewhere gets them from the Bus: the same fields, the content
// opened, what the Bus does not carry left out.
func TestPublishedHereAsFromTheBus(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		links, err := apiws.NewMediaLinks(make([]byte, 32), "https://apiws.example")
		if err != nil {
			t.Fatal(err)
		}
		fx.s.LinkMedia(links)
		here := fx.follow(ctx, Filter{}, nil)
		elsewhere, err := fx.bus.Subscribe(ctx, fx.acc, apiws.EventLogged)
		if err != nil {
			t.Fatal(err)
		}
		defer elsewhere.Close()

		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: fx.acc, Status: apiws.NumberConnected, CreatedAt: now}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		waID := "3EB0HERE"
		in := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: fx.acc, NumberID: n.ID, Direction: apiws.Inbound,
			Peer: "+15550100002", Kind: apiws.KindImage, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
		received, err := db.InsertInbound(ctx, in, apiws.ContentOf(apiws.KindImage, "a caption",
			&apiws.InboundMedia{MimeType: "image/png", FileName: "a.png", Size: 70, Ref: []byte("the ref")}))
		if err != nil {
			t.Fatal(err)
		}
		queued := fx.write(n.ID, 1)[0]
		fx.s.Publish(ctx, received, queued)
		if len(here) != 2 {
			t.Fatalf("%d events here when Publish returned; want both, handed over before the bus", len(here))
		}

		var fromBus []*apiws.LogEvent
		select {
		case msg := <-elsewhere.C():
			fromBus = fx.s.decode(msg)
		case <-time.After(5 * time.Second):
			t.Fatal("nothing on the bus")
		}
		if len(fromBus) != 2 {
			t.Fatalf("the bus carried %d events; want 2", len(fromBus))
		}
		shown := func(ev *apiws.LogEvent) string {
			c := *ev
			c.At = c.At.UTC()
			b, err := json.Marshal(struct {
				Event   apiws.LogEvent
				Content *apiws.MessageContent
			}{c, c.Content})
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for _, want := range fromBus {
			select {
			case got := <-here:
				if shown(got) != shown(want) {
					t.Fatalf("here:\n%s\nfrom the bus:\n%s", shown(got), shown(want))
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("no event here; want cursor %d", want.Seq)
			}
		}
		if c := fromBus[0].Content; c == nil || c.Media == nil || c.Media.URL == nil || c.Media.Ref != nil {
			t.Fatalf("the content as followers get it: %+v", c)
		}
	})
}

// Events published here that wait for a missing cursor are filled from
// the log even when the bus does not carry them (its publish failed): the
// stream's timers are armed for them, not only for what the bus brings.
func TestPublishedHereFillsItsGaps(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		all := fx.follow(ctx, Filter{}, nil)
		evs := fx.write("num_1", 3)
		failing, fail := context.WithCancel(context.Background())
		fail()
		fx.s.Publish(failing, evs[1], evs[2]) // 1 is in the log alone
		receive(t, all, 1, 2, 3)
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

// Publish sends an account's consecutive events in one bus message (at
// most maxPublished), so a commit's burst larger than a subscription's
// buffer arrives whole instead of dropping the subscriber. (The fixture's
// publish sends one event alone, as earlier versions did: the tests above
// read that form.)
func TestPublishSendsAnAccountsEventsTogether(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		fx := newStreamFixture(t, db)
		other := storagetest.Account(t, db)
		subscribe := func(account string) *events.Subscription {
			sub, err := fx.bus.Subscribe(t.Context(), account, apiws.EventLogged)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(sub.Close)
			return sub
		}
		mine, theirs := subscribe(fx.acc), subscribe(other)
		event := func(account string, seq int64, number string) *apiws.LogEvent {
			return &apiws.LogEvent{AccountID: account, Seq: seq, Type: apiws.EventTypeMessageStatus, NumberID: number,
				Status: apiws.StatusSent, At: time.Now().UTC()}
		}
		n := int64(maxPublished + events.DefaultBufferSize)
		var evs []*apiws.LogEvent
		for seq := range n - 1 {
			evs = append(evs, event(fx.acc, seq+1, "num_1"))
		}
		evs = append(evs, event(other, 1, "num_1"), event(fx.acc, n, "num_2"))
		fx.s.Publish(t.Context(), evs...)

		next := func(sub *events.Subscription) apiws.Event {
			t.Helper()
			select {
			case ev, ok := <-sub.C():
				if !ok {
					t.Fatalf("subscription ended: %v", sub.Err())
				}
				return ev
			case <-time.After(5 * time.Second):
				t.Fatal("no bus message")
			}
			return apiws.Event{}
		}
		var got []int64
		for _, want := range []struct {
			events int
			number string
		}{{maxPublished, "num_1"}, {int(n) - 1 - maxPublished, "num_1"}, {1, "num_2"}} {
			msg := next(mine)
			decoded := fx.s.decode(msg)
			if len(decoded) != want.events || msg.NumberID != want.number || msg.Cursor != decoded[len(decoded)-1].Seq {
				t.Fatalf("a message of %d events, number %q, cursor %d; want %d events of %q ending at its cursor",
					len(decoded), msg.NumberID, msg.Cursor, want.events, want.number)
			}
			// A version before runs reads the first event (and fills the
			// gap of the others from the log).
			var earlier struct {
				*apiws.LogEvent
				Sealed []byte `json:"sealed,omitempty"`
			}
			if err := json.Unmarshal(msg.Data, &earlier); err != nil || earlier.LogEvent == nil || earlier.Seq != decoded[0].Seq {
				t.Fatalf("an earlier version reads %+v, %v; want cursor %d", earlier.LogEvent, err, decoded[0].Seq)
			}
			for _, ev := range decoded {
				got = append(got, ev.Seq)
			}
		}
		if !slices.Equal(got, seqs(1, n)) {
			t.Fatalf("cursors %v; want 1…%d in order", got, n)
		}
		if decoded := fx.s.decode(next(theirs)); len(decoded) != 1 || decoded[0].AccountID != other {
			t.Fatalf("the other account's message: %+v", decoded)
		}
		if dropped := fx.bus.Stats().Dropped; dropped != 0 {
			t.Fatalf("%d subscribers dropped", dropped)
		}

		// A mixed message names no number.
		fx.s.Publish(t.Context(), event(fx.acc, n+1, "num_1"), event(fx.acc, n+2, "num_2"))
		if msg := next(mine); msg.NumberID != "" || len(fx.s.decode(msg)) != 2 {
			t.Fatalf("mixed numbers: %q, %d events", msg.NumberID, len(fx.s.decode(msg)))
		}
	})
}

// counted is a counter's value.
func counted(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
