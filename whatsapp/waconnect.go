package whatsapp

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// unlinkWait bounds how long Logout waits for an offline number to connect
// so that WhatsApp can be told to unlink its device.
const unlinkWait = 15 * time.Second

// Connect loads n's device keys by its JID and connects.
func (w *Whatsmeow) Connect(ctx context.Context, n *apiws.Number) error {
	device, err := w.device(ctx, n)
	if err != nil {
		return err
	}
	s, err := w.slot(n.ID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if num := s.num.Load(); num != nil && (num.client.IsConnected() || num.dialing.Load()) {
		s.mu.Unlock()
		return nil
	}
	num := w.attach(s, n.ID, device)
	num.dialing.Store(true)
	s.mu.Unlock()
	// The dial and handshake (up to about 50 s) hold no lock: a Disconnect,
	// a Logout or a pairing of the number need not wait for them.
	err = num.client.Connect()
	num.dialing.Store(false)
	s.mu.Lock()
	replaced := s.num.Load() != num
	if err != nil && !replaced {
		detach(s, num)
	}
	s.mu.Unlock()
	switch {
	case err != nil:
		num.stop()
		return fmt.Errorf("connect: %w", err)
	case replaced:
		// Disconnected, logged out or connected anew while it dialed: this
		// client is nobody's any more, and what replaced it reported the
		// number's state.
		num.stop()
	}
	return nil
}

// device loads n's device keys; ErrNotPaired when there are none.
func (w *Whatsmeow) device(ctx context.Context, n *apiws.Number) (*store.Device, error) {
	if n.JID == nil {
		return nil, ErrNotPaired
	}
	jid, err := types.ParseJID(*n.JID)
	if err != nil {
		return nil, fmt.Errorf("number %s has a bad jid %q: %w", n.ID, *n.JID, err)
	}
	device, err := w.devices.GetDevice(ctx, jid)
	if err != nil {
		return nil, fmt.Errorf("load device keys: %w", err)
	}
	if device == nil {
		return nil, ErrNotPaired
	}
	return device, nil
}

// Disconnect closes n's connection and keeps its keys.
func (w *Whatsmeow) Disconnect(ctx context.Context, n *apiws.Number) error {
	s, err := w.slot(n.ID)
	if err != nil {
		return nil // closed: every number is disconnected already
	}
	s.mu.Lock()
	num := s.num.Swap(nil)
	s.mu.Unlock()
	if num == nil {
		return nil
	}
	num.stop()
	// whatsmeow reports only disconnects it did not ask for.
	w.emit(&StateChange{NumberID: n.ID, Status: apiws.NumberDisconnected, Reason: "disconnected by request", At: w.now()})
	return nil
}

// Logout unlinks n from WhatsApp and deletes its keys. A number that is not
// connected here is connected briefly, so that the phone's list of linked
// devices loses it; if that fails (WhatsApp out of reach), the keys are
// deleted anyway and the phone lists the device until WhatsApp drops it.
func (w *Whatsmeow) Logout(ctx context.Context, n *apiws.Number) error {
	s, err := w.slot(n.ID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	num := s.num.Swap(nil)
	if num == nil || !num.client.IsLoggedIn() {
		if num != nil {
			num.stop()
		}
		num = nil
		if device, err := w.device(ctx, n); err == nil {
			num = w.attach(s, n.ID, device)
			s.num.Store(nil) // a brief connection, for this logout only
			if err := num.client.Connect(); err != nil || !w.wait(ctx, num.connected, unlinkWait) {
				w.log.Warn("could not reach whatsapp to unlink the device; deleting its keys only", "number", n.ID, "err", err)
			}
		} else if err != ErrNotPaired {
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()

	if num != nil {
		device := num.device
		num.client.RemoveEventHandler(num.handlerID)
		if num.client.IsLoggedIn() {
			if err := num.client.Logout(ctx); err == nil {
				device = nil // whatsmeow deleted the keys, through devices
			} else {
				w.log.Warn("whatsapp did not confirm the unlinking; deleting the device keys", "number", n.ID, "err", err)
			}
		}
		num.client.Disconnect()
		if device != nil && device.ID != nil {
			// The keys go even when the caller's ctx ended meanwhile.
			delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := w.devices.DeleteDevice(delCtx, device); err != nil {
				return fmt.Errorf("delete device keys: %w", err)
			}
		}
	}
	w.emit(&StateChange{NumberID: n.ID, Status: apiws.NumberLoggedOut, Reason: "logged out by request", Permanent: true, At: w.now()})
	return nil
}

// versionState remembers the last time WhatsApp was asked for its web
// version, so that a wave of client-outdated failures asks once.
type versionState struct {
	mu        sync.Mutex
	askedAt   time.Time
	changedAt time.Time // when the last ask changed the version in use
}

// versionRetry is how often, at most, WhatsApp is asked for its version
// after client-outdated failures.
const versionRetry = time.Minute

// outdated handles WhatsApp's refusal of the client version (405): unless
// the operator fixed the version, ask WhatsApp for the current one and, if
// it is newer, connect again with it; else the number stays disconnected.
func (w *Whatsmeow) outdated(numberID string, num *waNumber) {
	refreshed := w.refreshVersion()
	sc := &StateChange{NumberID: numberID, Status: apiws.NumberDisconnected, Code: 405, At: w.now()}
	if !refreshed {
		sc.Permanent = true
		sc.Reason = "whatsapp rejected this client version (" + store.GetWAVersion().String() + "); set APIWS_WA_VERSION or update apiws"
		w.emit(sc)
		return
	}
	sc.Reason = "whatsapp rejected the client version; reconnecting as " + store.GetWAVersion().String()
	w.emit(sc)
	s, err := w.slot(numberID)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.num.Load() != num {
		return // disconnected or replaced meanwhile
	}
	num.client.Disconnect()
	if err := num.client.Connect(); err != nil {
		w.log.Warn("reconnect with the new whatsapp version", "number", numberID, "err", err)
	}
}

// refreshVersion asks WhatsApp for its current web version and sets it;
// it reports whether the version in use changed (now or by a refresh less
// than versionRetry ago).
func (w *Whatsmeow) refreshVersion() bool {
	if w.opts.Version != "" {
		return false
	}
	w.version.mu.Lock()
	defer w.version.mu.Unlock()
	before := store.GetWAVersion()
	if !w.version.askedAt.IsZero() && w.now().Sub(w.version.askedAt) < versionRetry {
		// A wave of failures (every number at once) asks once; the numbers
		// after the first reconnect with what that ask brought.
		return !w.version.changedAt.IsZero() && w.now().Sub(w.version.changedAt) < versionRetry
	}
	w.version.askedAt = w.now()
	ctx, cancel := context.WithTimeout(context.Background(), versionTimeout)
	defer cancel()
	v, err := w.opts.fetchVersion(ctx)
	if err != nil || v.IsZero() || !before.LessThan(v) {
		w.log.Warn("whatsapp rejected the client version and no newer one could be had", "version", before.String(), "err", err)
		return false
	}
	store.SetWAVersion(v)
	w.version.changedAt = w.now()
	w.log.Info("whatsapp web version updated", "from", before.String(), "to", v.String())
	return true
}
