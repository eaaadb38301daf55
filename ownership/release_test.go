package ownership

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// handler records what a Manager tells it; each number it is told to let
// go of stays in use until the test closes its channel.
type handler struct {
	mu       sync.Mutex
	acquired []string
	released map[string]chan struct{}
}

func newHandler() *handler { return &handler{released: map[string]chan struct{}{}} }

func (h *handler) Acquired(_ context.Context, n *apiws.Number) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acquired = append(h.acquired, n.ID)
}

func (h *handler) Released(n *apiws.Number) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(chan struct{})
	h.released[n.ID] = c
	return c
}

// done closes the channel handed back for the number: its work here ended.
func (h *handler) done(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.released[id])
}

// releasedIDs returns the numbers the handler was told to let go of.
func (h *handler) releasedIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for id := range h.released {
		ids = append(ids, id)
	}
	return ids
}

// pairedNumbers creates paired numbers of a new account.
func pairedNumbers(t *testing.T, db *storage.DB, count int) []*apiws.Number {
	t.Helper()
	acc := storagetest.Account(t, db)
	var ns []*apiws.Number
	for range count {
		jid := apiws.NewID("jid") + "@s.whatsapp.net"
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc, Status: apiws.NumberConnected, JID: &jid,
			CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, n)
	}
	return ns
}

// pair is two Managers on one database, driven tick by tick on a clock of
// the test's: a owns both numbers, then b joins and a gives one back.
type pair struct {
	t      *testing.T
	db     *storage.DB
	clock  time.Time
	a, b   *Manager
	ha, hb *handler
	r      string // the number a gives back
	kept   string // the one it keeps
}

func newPair(t *testing.T, db *storage.DB) *pair {
	t.Helper()
	pairedNumbers(t, db, 2)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &pair{t: t, db: db, clock: time.Now().UTC(), ha: newHandler(), hb: newHandler()}
	p.a = New(db, log, Options{ID: "inst_a"})
	p.b = New(db, log, Options{ID: "inst_b"})
	for _, m := range []*Manager{p.a, p.b} {
		m.now = func() time.Time { return p.clock }
	}
	p.a.handler, p.b.handler = p.ha, p.hb
	p.a.tick(context.Background())
	if got := len(p.a.Owned()); got != 2 {
		t.Fatalf("a alone owns %d numbers; want 2", got)
	}
	for range 20 {
		p.step()
		if ids := p.ha.releasedIDs(); len(ids) > 0 {
			p.r = ids[0]
			p.kept = p.a.Owned()[0]
			return p
		}
	}
	t.Fatal("a did not give a number back to b")
	return nil
}

// step moves the clock on by a heartbeat, and each Manager ticks.
func (p *pair) step() {
	p.clock = p.clock.Add(p.a.opts.Heartbeat)
	p.a.tick(context.Background())
	p.b.tick(context.Background())
}

// holder returns who holds the live lease of the number in the database.
func (p *pair) holder(id string) string {
	p.t.Helper()
	ls, err := p.db.Leases(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	for _, l := range ls {
		if l.NumberID == id && p.clock.Before(l.ExpiresAt) {
			return l.Owner
		}
	}
	return ""
}

// A number given back is no longer owned at once, but its lease stays
// this instance's, renewed past its TTL, while the handler's work goes on;
// once the handler is done the lease goes and the other instance takes
// the number.
func TestReleaseKeepsTheLeaseUntilTheHandlerIsDone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		p := newPair(t, db)
		ctx := context.Background()
		if _, ok := p.a.Owns(p.r); ok {
			t.Fatal("a number given back is still owned")
		}
		// Five TTLs: without renewal the lease would have expired.
		for i := range 5 * int(p.a.opts.TTL/p.a.opts.Heartbeat) {
			if got := p.holder(p.r); got != "inst_a" {
				t.Fatalf("step %d: the lease of the number being released is held by %q; want inst_a", i, got)
			}
			if _, ok, _ := db.ClaimLease(ctx, p.r, "inst_c", p.clock, p.clock.Add(time.Second)); ok {
				t.Fatalf("step %d: another instance took a lease being released", i)
			}
			if got := p.b.Owned(); len(got) != 0 {
				t.Fatalf("step %d: b owns %v before a is done", i, got)
			}
			if got := p.a.Owned(); !slices.Equal(got, []string{p.kept}) {
				t.Fatalf("step %d: a owns %v; want only %s (neither counted nor taken again)", i, got, p.kept)
			}
			if s := p.a.Stats(); s.Owned != 1 || s.Releasing != 1 {
				t.Fatalf("step %d: a's stats %+v", i, s)
			}
			p.step()
		}
		p.ha.done(p.r)
		p.step()
		if got := p.b.Owned(); !slices.Equal(got, []string{p.r}) {
			t.Fatalf("once a is done, b owns %v; want %s", got, p.r)
		}
		if got := p.holder(p.r); got != "inst_b" {
			t.Fatalf("the lease is held by %q; want inst_b", got)
		}
		if s := p.a.Stats(); s.Releasing != 0 || s.Released != 1 || s.Lost != 0 {
			t.Fatalf("a's stats %+v", s)
		}
	})
}

// A handler that never ends its work holds the lease for releaseAtMost,
// not for ever.
func TestReleaseWaitsAtMostReleaseAtMost(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		p := newPair(t, db)
		since := p.clock
		for p.clock.Sub(since) < releaseAtMost-p.a.opts.Heartbeat {
			p.step()
			if got := p.holder(p.r); got != "inst_a" {
				t.Fatalf("after %v the lease is held by %q; want inst_a", p.clock.Sub(since), got)
			}
		}
		p.step()
		p.step()
		if got := p.b.Owned(); !slices.Equal(got, []string{p.r}) {
			t.Fatalf("after %v, b owns %v; want %s", p.clock.Sub(since), got, p.r)
		}
	})
}

// A lease lost while its number is being released is no longer waited
// for (another instance may take the number), but this instance does not
// take the number again before its handler is done.
func TestLeaseLostWhileReleasing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		p := newPair(t, db)
		ctx := context.Background()
		p.a.mu.Lock()
		token := p.a.releasing[p.r].token
		p.a.mu.Unlock()
		if err := db.ReleaseLease(ctx, p.r, "inst_a", token); err != nil {
			t.Fatal(err)
		}
		p.step()
		if s := p.a.Stats(); s.Lost != 1 || s.Releasing != 1 {
			t.Fatalf("a's stats %+v; want one lost, still releasing", s)
		}
		if got := p.b.Owned(); !slices.Equal(got, []string{p.r}) {
			t.Fatalf("b owns %v; want %s", got, p.r)
		}
		// b goes away: a would take the number back, but not before its
		// handler is done with it.
		if err := db.ReleaseAll(ctx, "inst_b"); err != nil {
			t.Fatal(err)
		}
		p.clock = p.clock.Add(p.a.opts.Heartbeat)
		p.a.tick(ctx)
		if got := p.a.Owned(); slices.Contains(got, p.r) {
			t.Fatalf("a took %s again before its handler was done", p.r)
		}
		p.ha.done(p.r)
		p.clock = p.clock.Add(p.a.opts.Heartbeat)
		p.a.tick(ctx)
		if got := p.a.Owned(); !slices.Contains(got, p.r) {
			t.Fatalf("a owns %v; want %s back once its handler was done", got, p.r)
		}
	})
}

// At shutdown the leases are given back once the handler is done with
// their numbers, and no later than their expiry when it is not.
func TestShutdownWaitsForTheHandler(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		n := pairedNumbers(t, db, 1)[0]
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		for _, done := range []bool{true, false} {
			h := newHandler()
			m := New(db, log, Options{TTL: time.Second, ID: "inst_a"})
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan struct{})
			go func() {
				defer close(ran)
				_ = m.Run(ctx, h)
			}()
			poll.Until(t, 10*time.Second, "the number owned", func() bool { return len(m.Owned()) == 1 })
			cancel()
			poll.Until(t, 10*time.Second, "the handler told", func() bool { return len(h.releasedIDs()) == 1 })
			if done {
				select {
				case <-ran:
					t.Fatal("Run returned before the handler was done")
				default:
				}
				ls, err := db.Leases(context.Background())
				if err != nil || len(ls) != 1 || ls[0].Owner != "inst_a" {
					t.Fatalf("leases while the handler works: %v, %v", ls, err)
				}
				h.done(n.ID)
			}
			select {
			case <-ran:
			case <-time.After(10 * time.Second):
				t.Fatalf("Run did not return (handler done: %v)", done)
			}
			if ls, err := db.Leases(context.Background()); err != nil || len(ls) != 0 {
				t.Fatalf("leases after shutdown: %v, %v", ls, err)
			}
		}
	})
}

// Run hands a lease over as soon as the handler is done, not at its next
// heartbeat.
func TestRunHandsOverWhenTheHandlerIsDone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		n := pairedNumbers(t, db, 1)[0]
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		h := newHandler()
		m := New(db, log, Options{TTL: 4 * time.Minute, Heartbeat: time.Minute, ID: "inst_a"})
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() {
			defer close(ran)
			_ = m.Run(ctx, h)
		}()
		defer func() { cancel(); <-ran }()
		poll.Until(t, 10*time.Second, "the number owned", func() bool { return len(m.Owned()) == 1 })
		m.release(n.ID) // as balance does, between two heartbeats
		if ls, err := db.Leases(context.Background()); err != nil || len(ls) != 1 {
			t.Fatalf("leases while the handler works: %v, %v", ls, err)
		}
		h.done(n.ID)
		poll.Until(t, 10*time.Second, "the lease given back", func() bool {
			ls, err := db.Leases(context.Background())
			return err == nil && len(ls) == 0
		})
	})
}
