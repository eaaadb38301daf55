package numbers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// flaky is the sandbox with Connect failing while fails is above zero, as
// with a network blip; it counts Connect calls.
type flaky struct {
	whatsapp.Connector
	fails, calls atomic.Int32
}

func (f *flaky) Connect(ctx context.Context, n *apiws.Number) error {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return errors.New("dial tcp: connection reset by peer")
	}
	return f.Connector.Connect(ctx, n)
}

// clock is a clock the test moves by hand.
type clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC()} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// awaitWaiter waits until the code under test waits on the clock.
func (c *clock) awaitWaiter(t *testing.T) {
	t.Helper()
	waitFor(t, "a wait on the clock", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) > 0 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (e *env) status(t *testing.T, id string) apiws.NumberStatus {
	t.Helper()
	n, err := e.db.NumberByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n.Status
}

func TestFailedConnectRetriedWithBackoff(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := &flaky{}
		e := newEnvOpts(t, db, envOptions{wrap: func(c whatsapp.Connector) whatsapp.Connector { f.Connector = c; return f }})
		clk := newClock()
		e.svc.SetClock(clk.Now, clk.After)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}

		f.fails.Store(2)
		if _, err := e.svc.ReconnectNumber(ctx, n.ID); err == nil {
			t.Fatal("the failed connect was not reported")
		}
		if got := e.status(t, n.ID); got != apiws.NumberDisconnected {
			t.Fatalf("after a failed connect: %s", got)
		}
		clk.awaitWaiter(t)
		clk.Advance(3 * time.Second) // the first retry: about 2s
		waitFor(t, "the second attempt", func() bool { return f.calls.Load() == 2 })
		clk.awaitWaiter(t)
		clk.Advance(3 * time.Second) // the second retry waits about 4s: not yet
		if f.calls.Load() != 2 {
			t.Fatal("the backoff did not grow")
		}
		clk.Advance(2 * time.Second)
		waitFor(t, "CONNECTED", func() bool { return e.status(t, n.ID) == apiws.NumberConnected })
		if f.calls.Load() != 3 {
			t.Errorf("%d connects, want 3", f.calls.Load())
		}
	})
}

func TestRetriesEndWhenTheNumberGoes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := &flaky{}
		e := newEnvOpts(t, db, envOptions{wrap: func(c whatsapp.Connector) whatsapp.Connector { f.Connector = c; return f }})
		clk := newClock()
		e.svc.SetClock(clk.Now, clk.After)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		for _, end := range []string{"disconnect", "remove"} {
			n := e.pairSandbox(ctx, t)
			if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
				t.Fatal(err)
			}
			f.fails.Store(1000)
			f.calls.Store(0)
			_, _ = e.svc.ReconnectNumber(ctx, n.ID)
			clk.awaitWaiter(t)
			if !e.svc.Retrying(n.ID) {
				t.Fatal("no retry after a failed connect")
			}
			switch end {
			case "disconnect":
				_, _ = e.svc.DisconnectNumber(ctx, n.ID)
			case "remove":
				if err := e.svc.RemoveNumber(ctx, n.ID); err != nil {
					t.Fatal(err)
				}
			}
			if e.svc.Retrying(n.ID) {
				t.Errorf("%s: the retries go on", end)
			}
			clk.Advance(time.Hour)
			e.stop()
			if got := f.calls.Load(); got != 1 {
				t.Errorf("%s: %d connects, want none after it", end, got)
			}
			e = newEnvOpts(t, db, envOptions{wrap: func(c whatsapp.Connector) whatsapp.Connector { f.Connector = c; return f }})
			e.svc.SetClock(clk.Now, clk.After)
		}
	})
}

func TestTemporaryBanEndsInReconnect(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		clk := newClock()
		e.svc.SetClock(clk.Now, clk.After)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		until := clk.Now().Add(time.Hour)
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: n.ID, Status: apiws.NumberBanned, Reason: "101: sent to too many people",
			BanExpiresAt: &until, Permanent: true, At: clk.Now()})
		if got := e.status(t, n.ID); got != apiws.NumberBanned {
			t.Fatalf("status %s, want BANNED", got)
		}
		clk.awaitWaiter(t)
		clk.Advance(59 * time.Minute)
		if got := e.status(t, n.ID); got != apiws.NumberBanned {
			t.Fatalf("reconnected before the ban ended: %s", got)
		}
		clk.Advance(time.Minute)
		waitFor(t, "CONNECTED after the ban", func() bool { return e.status(t, n.ID) == apiws.NumberConnected })
	})
}

// TestTemporaryBanEndsInReconnectAfterRestart: the ban's end is stored
// with the number, so the instance that owns it after a restart (or a
// lease move) connects it when the ban ends; a ban for good stays.
func TestTemporaryBanEndsInReconnectAfterRestart(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		temporary, forGood := e.pairSandbox(ctx, t), e.pairSandbox(ctx, t)
		until := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: temporary.ID, Status: apiws.NumberBanned, Reason: "101: sent to too many people",
			Code: 101, BanExpiresAt: &until, Permanent: true, At: time.Now()})
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: forGood.ID, Status: apiws.NumberBanned, Reason: "403: banned",
			Code: 403, Permanent: true, At: time.Now()})
		got, err := e.db.NumberByID(ctx, temporary.ID)
		if err != nil || got.Status != apiws.NumberBanned || got.BanExpiresAt == nil || !got.BanExpiresAt.Equal(until) {
			t.Fatalf("banned number %+v, %v; want BANNED until %v", got, err, until)
		}
		e.stop()

		// A fresh start: ownership hands the new instance its numbers.
		e = newEnv(t, db)
		clk := newClock()
		clk.now = until.Add(-time.Minute)
		e.svc.SetClock(clk.Now, clk.After)
		e.svc.ConnectOwned(ctx, temporary)
		e.svc.ConnectOwned(ctx, forGood)
		if e.svc.Retrying(forGood.ID) {
			t.Error("a number banned for good is set to reconnect")
		}
		clk.awaitWaiter(t)
		if got := e.status(t, temporary.ID); got != apiws.NumberBanned {
			t.Fatalf("reconnected before the ban ended: %s", got)
		}
		clk.Advance(time.Minute)
		waitFor(t, "CONNECTED after the ban", func() bool { return e.status(t, temporary.ID) == apiws.NumberConnected })
		if got, _ := e.db.NumberByID(ctx, temporary.ID); got.BanExpiresAt != nil {
			t.Errorf("ban expiry %v kept after the reconnect", got.BanExpiresAt)
		}
		if got := e.status(t, forGood.ID); got != apiws.NumberBanned {
			t.Errorf("number banned for good is %s", got)
		}
	})
}

func TestConnectionNotices(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		statuses, err := e.statuses(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: n.ID, Status: apiws.NumberConnected, Notice: true,
			Reason: "whatsapp has not answered 2 keep-alive pings", At: time.Now()})
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: n.ID, Status: apiws.NumberConnected, Notice: true, PushName: "Shop & Co", At: time.Now()})
		var reasons []string
		for ev := range statuses {
			if ev.Status() != apiws.NumberConnected || ev.Reason() == nil || *ev.Reason() == "paired" {
				continue // the pairing's own report may come late
			}
			reasons = append(reasons, *ev.Reason())
			if len(reasons) == 2 {
				break
			}
		}
		if reasons[0] != "whatsapp has not answered 2 keep-alive pings" || reasons[1] != "name changed" {
			t.Errorf("reasons %q", reasons)
		}
		got, _ := e.db.NumberByID(ctx, n.ID)
		if got.PushName == nil || *got.PushName != "Shop & Co" || got.Status != apiws.NumberConnected {
			t.Errorf("number %+v", got)
		}
		// A notice never changes the status of a number in another state.
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		e.svc.HandleStateChange(&whatsapp.StateChange{NumberID: n.ID, Status: apiws.NumberConnected, Notice: true, Reason: "x", At: time.Now()})
		if st := e.status(t, n.ID); st != apiws.NumberDisconnected {
			t.Errorf("a notice moved the number to %s", st)
		}
	})
}
