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
		sandboxB := whatsapp.NewSandbox(func(whatsapp.Event) {}, 0)
		atB := &logouts{Connector: sandboxB}
		b := numbers.New(numbers.Deps{DB: db, Bus: a.bus, Events: a.events, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Owner: &owner{}, Sandbox: atB})
		clk := newClock()
		b.SetClock(clk.Now, clk.After)
		runB, stopB := context.WithCancel(context.Background())
		ranB := make(chan error, 1)
		go func() { ranB <- b.Run(runB) }()
		t.Cleanup(func() {
			stopB()
			if err := <-ranB; err != nil {
				t.Errorf("instance B: %v", err)
			}
			_ = sandboxB.Close()
		})

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
