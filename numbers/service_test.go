package numbers_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// env is a service over a real database, the in-process bus and an
// immediate sandbox.
type env struct {
	db      *storage.DB
	svc     *numbers.Service
	sandbox *whatsapp.Sandbox
	acc     *apiws.Account
	ctx     context.Context // acts for acc through a dashboard session
	bus     *events.Memory
	events  *eventlog.Log
	stop    func() // stops the service (once) and waits for it
	// connected counts, per number, the CONNECTED reports of the connector
	// the service has handled.
	connected *sync.Map
}

func newEnv(t *testing.T, db *storage.DB) *env {
	return newEnvWith(t, db, nil)
}

// newEnvWith is newEnv with around wrapping the service's handling of each
// connector report (handle).
func newEnvWith(t *testing.T, db *storage.DB, around func(sc *whatsapp.StateChange, handle func())) *env {
	t.Helper()
	return newEnvOpts(t, db, envOptions{around: around})
}

// envOptions change what newEnvOpts makes.
type envOptions struct {
	// around wraps the service's handling of each connector report.
	around func(sc *whatsapp.StateChange, handle func())
	// wrap, when set, stands between the service and the sandbox.
	wrap func(whatsapp.Connector) whatsapp.Connector
	// bus is the service's bus; default a new in-process one.
	bus *events.Memory
	// owner is the service's Owner; default none (it owns every number).
	owner numbers.Owner
}

// newEnvOpts is newEnv made as o says.
func newEnvOpts(t *testing.T, db *storage.DB, o envOptions) *env {
	t.Helper()
	bus := o.bus
	if bus == nil {
		bus = events.NewMemory(events.Options{})
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := whatsapp.NewRouter(log)
	handle := router.Handle
	if o.around != nil {
		handle = func(e whatsapp.Event) {
			if sc, ok := e.(*whatsapp.StateChange); ok {
				o.around(sc, func() { router.Handle(e) })
			}
		}
	}
	connected := new(sync.Map)
	routed := handle
	handle = func(e whatsapp.Event) {
		routed(e)
		if sc, ok := e.(*whatsapp.StateChange); ok && sc.Status == apiws.NumberConnected && !sc.Notice {
			k, _ := connected.LoadOrStore(sc.NumberID, new(atomic.Int32))
			k.(*atomic.Int32).Add(1)
		}
	}
	sandbox := whatsapp.NewSandbox(handle, 0.05)
	var conn whatsapp.Connector = sandbox
	if o.wrap != nil {
		conn = o.wrap(sandbox)
	}
	evlog, err := eventlog.New(db, bus, make([]byte, 32), time.Hour, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(evlog.Close)
	svc := numbers.New(numbers.Deps{DB: db, Bus: bus, Events: evlog, Log: log, Router: router, Owner: o.owner, Sandbox: conn})
	runCtx, cancel := context.WithCancel(context.Background())
	running := make(chan error, 1)
	go func() { running <- svc.Run(runCtx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-running; err != nil {
				t.Errorf("numbers service: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		_ = sandbox.Close()
		_ = bus.Close()
	})
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "N", Email: apiws.NewID("e") + "@example.com",
		Status: apiws.AccountActive, PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
	err = db.CreateAccount(context.Background(), acc,
		&apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now},
		&apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(acc.ID), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		&apiws.AuditEntry{Actor: "system", Action: "signup", At: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID})
	return &env{db: db, svc: svc, sandbox: sandbox, acc: acc, ctx: ctx, bus: bus, events: evlog, stop: stop, connected: connected}
}

// statuses follows the NUMBER_STATUS events of the account ctx acts for,
// from now on, as the numberStatus subscription does (of one number when
// numberID is set).
func (e *env) statuses(ctx context.Context, numberID string) (<-chan *apiws.NumberStatusEvent, error) {
	filter := eventlog.Filter{Types: []apiws.EventType{apiws.EventTypeNumberStatus}, NumberID: numberID}
	evs, err := e.events.Follow(ctx, apiws.CallerFrom(ctx).AccountID, filter, nil)
	if err != nil {
		return nil, err
	}
	out := make(chan *apiws.NumberStatusEvent)
	go func() {
		defer close(out)
		for ev := range evs {
			select {
			case out <- &apiws.NumberStatusEvent{LogEvent: ev}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func TestPairingThenStatusThenReconnectAtStart(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		n, err := e.svc.ConnectNumber(ctx, apiws.NewNumber{Sandbox: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConnectNumber(ctx, apiws.NewNumber{Sandbox: true}); apiws.ErrorCodeOf(err) != apiws.ECONFLICT {
			t.Fatalf("second ConnectNumber = %v; want CONFLICT", err)
		}
		if _, err := e.svc.ConnectNumber(ctx, apiws.NewNumber{}); apiws.ErrorCodeOf(err) != apiws.EUNAVAILABLE {
			t.Fatalf("real number without a connector = %v; want UNAVAILABLE", err)
		}
		evs, err := e.svc.Pairing(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		var last apiws.PairingEvent
		qrs := 0
		for ev := range evs {
			if _, ok := ev.(*apiws.PairingQRCode); ok {
				qrs++
			}
			last = ev
		}
		ok, _ := last.(*apiws.PairingSuccess)
		if qrs == 0 || ok == nil || ok.Number.Status != apiws.NumberConnected || ok.Number.Phone == nil {
			t.Fatalf("pairing gave %d QR codes, then %#v", qrs, last)
		}

		// A late subscriber learns the outcome at once.
		evs, err = e.svc.Pairing(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev := <-evs; ev.(*apiws.PairingSuccess) == nil {
			t.Fatalf("late subscriber got %#v", ev)
		}

		statuses, err := e.statuses(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		// The CONNECTED of the pairing may come first.
		for ev := range statuses {
			if ev.Number().ID != n.ID {
				t.Fatalf("status of another number: %+v", ev)
			}
			if ev.Status() == apiws.NumberDisconnected {
				break
			}
		}

		// A fresh start (a new service and sandbox over the same database)
		// brings the paired number back.
		e2 := newEnv(t, db)
		statuses2, err := e2.statuses(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		// At start, ownership hands this instance the paired numbers.
		e2.svc.ConnectOwned(ctx, n)
		for ev := range statuses2 {
			if ev.Status() == apiws.NumberConnected {
				break
			}
		}
		got, err := e.svc.Number(ctx, n.ID)
		if err != nil || got.Status != apiws.NumberConnected {
			t.Fatalf("after ConnectOwned: %+v, %v", got, err)
		}
	})
}

// TestQuickDisconnectsAndReconnectsEndAsAsked: a number disconnected and
// reconnected in quick succession ends in the state last asked for, once
// every connector report is in; a late report of an earlier state must not
// overwrite it (the dashboard showed a reconnected number DISCONNECTED).
func TestQuickDisconnectsAndReconnectsEndAsAsked(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnvWith(t, db, slowConnected)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		for i := range 10 {
			got, err := e.svc.DisconnectNumber(ctx, n.ID)
			if err != nil || got.Status != apiws.NumberDisconnected {
				t.Fatalf("cycle %d: DisconnectNumber = %+v, %v", i, got, err)
			}
			if _, err := e.svc.ReconnectNumber(ctx, n.ID); err != nil {
				t.Fatalf("cycle %d: ReconnectNumber: %v", i, err)
			}
		}
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		_ = e.sandbox.Close() // returns once every report was handled
		got, err := e.svc.Number(ctx, n.ID)
		if err != nil || got.Status != apiws.NumberDisconnected {
			t.Fatalf("after the last disconnect and every report: %+v, %v; want DISCONNECTED", got, err)
		}
	})
}

// pairSandbox connects a sandbox number and waits for its pairing to end.
func (e *env) pairSandbox(ctx context.Context, t *testing.T) *apiws.Number {
	t.Helper()
	n, err := e.svc.ConnectNumber(ctx, apiws.NewNumber{Sandbox: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := e.svc.Pairing(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range evs {
	}
	// The sandbox's own CONNECTED report of the pairing may be handled
	// after the outcome; wait for it, so that it cannot land on whatever
	// the test does next with the number.
	waitFor(t, "the pairing's CONNECTED report", func() bool {
		k, ok := e.connected.Load(n.ID)
		return ok && k.(*atomic.Int32).Load() > 0
	})
	return n
}

// slowConnected handles CONNECTED reports late, as with a busy database.
func slowConnected(sc *whatsapp.StateChange, handle func()) {
	if sc.Status == apiws.NumberConnected {
		time.Sleep(10 * time.Millisecond)
	}
	handle()
}

// TestRemovingAReconnectingNumberStaysLoggedOut: the CONNECTED of a
// reconnect that comes after the number was removed is a late report of an
// ended connection; it must not bring the number back, not even for a
// moment.
func TestRemovingAReconnectingNumberStaysLoggedOut(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		var revived atomic.Int32
		e := newEnvWith(t, db, func(sc *whatsapp.StateChange, handle func()) {
			slowConnected(sc, func() {
				before, err := db.NumberByID(context.Background(), sc.NumberID)
				handle()
				after, err2 := db.NumberByID(context.Background(), sc.NumberID)
				if err == nil && err2 == nil && before.Status == apiws.NumberLoggedOut && after.Status == apiws.NumberConnected {
					revived.Add(1)
				}
			})
		})
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ReconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RemoveNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		_ = e.sandbox.Close() // returns once every report was handled
		if got := revived.Load(); got != 0 {
			t.Errorf("a removed (LOGGED_OUT) number was set CONNECTED %d times by a late report", got)
		}
		if _, err := e.svc.Number(ctx, n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Errorf("the removed number: %v, want NOT_FOUND", err)
		}
	})
}

func TestPendingDeletionCannotConnect(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		if _, err := db.Bun.NewUpdate().Model((*apiws.Account)(nil)).Set("status = ?", apiws.AccountPendingDeletion).
			Where("id = ?", e.acc.ID).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConnectNumber(e.ctx, apiws.NewNumber{Sandbox: true}); apiws.ErrorCodeOf(err) != apiws.EFORBIDDEN {
			t.Fatalf("ConnectNumber while pending deletion = %v; want FORBIDDEN", err)
		}
	})
}

// TestStatusStreamOutlivesFallingBehind: a numberStatus subscriber whose
// stream the bus drops for falling behind reads the log and goes on; its
// stream does not end as if it were over.
func TestStatusStreamOutlivesFallingBehind(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnvOpts(t, db, envOptions{bus: events.NewMemory(events.Options{BufferSize: 1})})
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)
		statuses, err := e.statuses(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Unread events pile up until the bus drops the subscriber.
		for range 10 {
			if err := e.bus.Publish(ctx, e.acc.ID, apiws.Event{Kind: apiws.EventLogged, AccountID: e.acc.ID, NumberID: n.ID, Data: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
		if e.bus.Stats().Dropped == 0 {
			t.Fatal("the subscriber was not dropped; the test proves nothing")
		}
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case ev, ok := <-statuses:
				if !ok {
					t.Fatal("the status stream ended after falling behind")
				}
				if ev.Number().ID == n.ID && ev.Status() == apiws.NumberDisconnected {
					return
				}
			case <-ctx.Done():
				t.Fatal("no DISCONNECTED after falling behind")
			}
		}
	})
}
