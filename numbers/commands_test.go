package numbers_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// owner is a lease holder that owns every number or none.
type owner struct{ owns atomic.Bool }

func (o *owner) Owns(string) (int64, bool)                 { return 1, o.owns.Load() }
func (o *owner) Claim(context.Context, *apiws.Number) bool { return o.owns.Load() }

// logouts counts the Logouts a connector is asked for.
type logouts struct {
	whatsapp.Connector
	n atomic.Int32
}

func (l *logouts) Logout(ctx context.Context, n *apiws.Number) error {
	l.n.Add(1)
	return l.Connector.Logout(ctx, n)
}

// TestRemovalLogsOutWhereTheNumberIsConnected: removing a number on an
// instance that does not hold its connection has its owner log it out
// (which unlinks the device); with no owner answering, it is logged out
// where it was removed.
func TestRemovalLogsOutWhereTheNumberIsConnected(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		atA := &logouts{}
		ownerA := &owner{}
		ownerA.owns.Store(true)
		a := newEnvOpts(t, db, envOptions{owner: ownerA, wrap: func(c whatsapp.Connector) whatsapp.Connector { atA.Connector = c; return atA }})

		// Instance B, on the same database and bus, owns nothing.
		atB := &logouts{}
		b, clk := a.otherInstance(t, db, func(c whatsapp.Connector) whatsapp.Connector { atB.Connector = c; return atB })

		ctx, cancel := context.WithTimeout(a.ctx, 20*time.Second)
		defer cancel()
		n := a.pairSandbox(ctx, t)
		if err := b.RemoveNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if atA.n.Load() != 1 || atB.n.Load() != 0 {
			t.Fatalf("logouts: owner %d, remover %d; want the owner's only", atA.n.Load(), atB.n.Load())
		}
		if _, err := db.NumberByID(ctx, n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Errorf("the number after removal: %v", err)
		}

		// Nobody holds the next one when it is removed.
		n2 := a.pairSandbox(ctx, t)
		ownerA.owns.Store(false)
		clk.Advance(time.Minute) // the first removal's wait, answered early
		done := make(chan error, 1)
		go func() { done <- b.RemoveNumber(ctx, n2.ID) }()
		clk.awaitWaiter(t)
		clk.Advance(time.Minute)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if atA.n.Load() != 1 || atB.n.Load() != 1 {
			t.Fatalf("logouts: former owner %d, remover %d; want the remover's", atA.n.Load(), atB.n.Load())
		}
	})
}

// otherInstance starts a second numbers service on e's database and bus
// that owns no number, its sandbox wrapped by wrap and its clock the
// returned one; it stops with the test.
func (e *env) otherInstance(t *testing.T, db *storage.DB, wrap func(whatsapp.Connector) whatsapp.Connector) (*numbers.Service, *clock) {
	t.Helper()
	sandbox := whatsapp.NewSandbox(func(whatsapp.Event) {}, 0)
	svc := numbers.New(numbers.Deps{DB: db, Bus: e.bus, Events: e.events, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Owner: &owner{}, Sandbox: wrap(sandbox)})
	clk := newClock()
	svc.SetClock(clk.Now, clk.After)
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("the other instance: %v", err)
		}
		_ = sandbox.Close()
	})
	return svc, clk
}
