package numbers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// scripted is the sandbox with pairings the test plays step by step.
type scripted struct {
	whatsapp.Connector
	steps chan whatsapp.PairEvent
}

func (c *scripted) PairQR(ctx context.Context, n *apiws.Number) (<-chan whatsapp.PairEvent, error) {
	return c.steps, nil
}

// TestPairingGoesThroughConnecting: once the phone accepts the link the
// number is CONNECTING, then CONNECTED, in that order on numberStatus.
func TestPairingGoesThroughConnecting(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		e := newEnv(t, db)
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		statuses, err := e.statuses(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		n := e.pairSandbox(ctx, t)
		var seen []apiws.NumberStatus
		for ev := range statuses {
			if ev.Number().ID != n.ID {
				continue
			}
			seen = append(seen, ev.Status())
			if ev.Status() == apiws.NumberConnected {
				break
			}
		}
		want := []apiws.NumberStatus{apiws.NumberPairing, apiws.NumberConnecting, apiws.NumberConnected}
		if !slices.Equal(seen, want) {
			t.Errorf("statuses %v, want %v", seen, want)
		}
	})
}

// TestLinkedNumberThatDoesNotConnect: a linked device is CONNECTING with its
// phone; when its connection does not come up in time, the pairing still
// succeeds (the device is linked) and the number is DISCONNECTED with the
// reason.
func TestLinkedNumberThatDoesNotConnect(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		c := &scripted{steps: make(chan whatsapp.PairEvent, 4)}
		e := newEnvOpts(t, db, envOptions{wrap: func(s whatsapp.Connector) whatsapp.Connector { c.Connector = s; return c }})
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n, err := e.svc.ConnectNumber(ctx, apiws.NewNumber{Sandbox: true})
		if err != nil {
			t.Fatal(err)
		}
		pairing, err := e.svc.Pairing(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		statuses, err := e.statuses(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		c.steps <- whatsapp.PairEvent{QR: &whatsapp.QRCode{Code: "2@a,b", PNG: "data:image/png;base64,", ExpiresAt: time.Now().Add(time.Minute)}}
		if ev := <-pairing; ev.(*apiws.PairingQRCode) == nil {
			t.Fatalf("first pairing event %#v", ev)
		}
		linked := whatsapp.PairSuccess{Phone: "+15550123456", JID: "15550123456:7@s.whatsapp.net", PushName: "Shop", Status: apiws.NumberConnecting}
		c.steps <- whatsapp.PairEvent{Linked: &linked}
		ev := nextStatus(t, statuses, apiws.NumberConnecting)
		if ev.Number().Phone == nil || *ev.Number().Phone != linked.Phone || ev.Number().JID == nil || *ev.Number().JID != linked.JID {
			t.Errorf("CONNECTING number %+v, want its phone and device", ev.Number())
		}
		got, err := e.db.NumberByID(ctx, n.ID)
		if err != nil || got.Status != apiws.NumberConnecting || got.Pairing != nil || got.ConnectedAt != nil {
			t.Fatalf("linked number %+v, %v; want CONNECTING, no QR code, never connected", got, err)
		}

		done := linked
		done.Status, done.Reason = apiws.NumberDisconnected, "linked, but the connection did not come up in time; retrying"
		c.steps <- whatsapp.PairEvent{Success: &done}
		close(c.steps)
		ev = nextStatus(t, statuses, apiws.NumberDisconnected)
		if ev.Reason() == nil || *ev.Reason() != done.Reason {
			t.Errorf("DISCONNECTED reason %v, want %q", ev.Reason(), done.Reason)
		}
		for pe := range pairing {
			ok, isOK := pe.(*apiws.PairingSuccess)
			if !isOK {
				t.Fatalf("pairing outcome %#v, want success", pe)
			}
			if ok.Number.Status != apiws.NumberDisconnected || ok.Number.Phone == nil {
				t.Errorf("success number %+v", ok.Number)
			}
		}
	})
}

// nextStatus returns the next status event, which must have status want.
func nextStatus(t *testing.T, statuses <-chan *apiws.NumberStatusEvent, want apiws.NumberStatus) *apiws.NumberStatusEvent {
	t.Helper()
	ev, ok := <-statuses
	if !ok || ev.Status() != want {
		t.Fatalf("status event %+v (open %v), want %s", ev, ok, want)
	}
	return ev
}
