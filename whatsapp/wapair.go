package whatsapp

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
)

// pairCodeWait bounds how long PairPhone waits for the pairing's first QR
// code: whatsmeow can only ask for a pairing code once WhatsApp answered.
const pairCodeWait = 20 * time.Second

// pairConnectWait bounds how long a linked device may take to connect:
// after linking, WhatsApp closes the stream (error 515) and whatsmeow
// connects again. The pairing reports Linked (CONNECTING) at once, and its
// outcome waits for that connection.
const pairConnectWait = 30 * time.Second

// PairQR links a new device for n and streams its QR codes and outcome.
func (w *Whatsmeow) PairQR(ctx context.Context, n *apiws.Number) (<-chan PairEvent, error) {
	s, err := w.slot(n.ID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if old := s.num.Load(); old != nil && old.cancelPairing != nil {
		s.mu.Unlock()
		return nil, ErrPairing
	}
	num := w.attach(s, n.ID, w.devices.NewDevice())
	pairCtx, cancel := context.WithCancel(ctx)
	num.cancelPairing = cancel
	s.mu.Unlock()
	// The dial holds no lock (another pairing of the number is refused by
	// cancelPairing meanwhile; a Disconnect cancels this one).
	qr, err := num.client.GetQRChannel(pairCtx)
	if err == nil {
		err = num.client.Connect()
	}
	if err != nil {
		s.mu.Lock()
		detach(s, num)
		s.mu.Unlock()
		num.stop() // also cancels pairCtx
		return nil, fmt.Errorf("start pairing: %w", err)
	}
	out := make(chan PairEvent, 4)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(out)
		outcome := w.relayQR(pairCtx, num, qr, out)
		if outcome.Success != nil {
			linked := *outcome.Success
			linked.Status = apiws.NumberConnecting
			select {
			case out <- PairEvent{Linked: &linked}:
			case <-pairCtx.Done():
			case <-w.done:
			}
			w.awaitConnection(pairCtx, num, outcome.Success)
		}
		cancel()
		s.mu.Lock()
		if s.num.Load() == num {
			num.cancelPairing = nil
			if outcome.Success == nil {
				num.stop()
				detach(s, num)
			}
		}
		s.mu.Unlock()
		// The outcome must not be lost behind unread QR codes, yet a reader
		// that cancelled or a closing connector must not hold us forever.
		select {
		case out <- outcome:
		case <-ctx.Done():
			select {
			case out <- outcome:
			default:
			}
		case <-w.done:
		}
	}()
	return out, nil
}

// awaitConnection waits for a linked device's first connection and says in
// ok how the number stands: CONNECTED, or DISCONNECTED if it did not
// connect in time (whatsmeow goes on trying; CONNECTED follows then).
func (w *Whatsmeow) awaitConnection(ctx context.Context, num *waNumber, ok *PairSuccess) {
	if w.wait(ctx, num.connected, pairConnectWait) {
		ok.Status = apiws.NumberConnected
		if num.device.PushName != "" {
			ok.PushName = num.device.PushName
		}
		return
	}
	ok.Status = apiws.NumberDisconnected
	ok.Reason = "linked, but the connection did not come up in time; retrying"
}

// relayQR forwards QR codes from whatsmeow until the pairing ends and
// returns the outcome.
func (w *Whatsmeow) relayQR(ctx context.Context, num *waNumber, qr <-chan whatsmeow.QRChannelItem, out chan<- PairEvent) PairEvent {
	fail := func(reason PairFailureReason, msg string) PairEvent {
		return PairEvent{Failure: &PairFailure{Reason: reason, Message: msg}}
	}
	for {
		var item whatsmeow.QRChannelItem
		var ok bool
		select {
		case item, ok = <-qr:
		case <-ctx.Done():
			return fail(PairCancelled, "pairing cancelled")
		}
		if !ok {
			if ctx.Err() != nil {
				return fail(PairCancelled, "pairing cancelled")
			}
			return fail(PairError, "pairing ended without an outcome")
		}
		if item.Event == whatsmeow.QRChannelEventCode {
			png, err := qrDataURL(item.Code)
			if err != nil {
				return fail(PairError, err.Error())
			}
			ev := PairEvent{QR: &QRCode{Code: item.Code, PNG: png, ExpiresAt: w.now().Add(item.Timeout)}}
			num.firstQROnce.Do(func() { close(num.firstQR) })
			select {
			case out <- ev:
			case <-ctx.Done():
				return fail(PairCancelled, "pairing cancelled")
			}
			continue
		}
		if ev, done := pairOutcome(item, num.device); done {
			return ev
		}
	}
}

// pairOutcome maps whatsmeow's final QR channel items; done is false for
// items after which pairing goes on.
func pairOutcome(item whatsmeow.QRChannelItem, device *store.Device) (ev PairEvent, done bool) {
	fail := func(reason PairFailureReason, msg string) (PairEvent, bool) {
		return PairEvent{Failure: &PairFailure{Reason: reason, Message: msg}}, true
	}
	switch item.Event {
	case whatsmeow.QRChannelSuccess.Event:
		if device.ID == nil {
			return fail(PairError, "paired, but the device has no id")
		}
		return PairEvent{Success: &PairSuccess{
			Phone:    "+" + device.ID.User,
			JID:      device.ID.String(),
			PushName: device.PushName,
		}}, true
	case whatsmeow.QRChannelTimeout.Event:
		return fail(PairTimeout, "no QR code was scanned in time")
	case whatsmeow.QRChannelEventError:
		msg := "the phone or whatsapp refused the link"
		if item.Error != nil {
			msg += ": " + item.Error.Error()
		}
		return fail(PairRejected, msg)
	case whatsmeow.QRChannelClientOutdated.Event:
		return fail(PairClientOutdated, "whatsapp rejected this client version")
	case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
		// The same code can be scanned again once the phone enables it.
		return PairEvent{}, false
	}
	return fail(PairError, "pairing failed: "+item.Event)
}

// PairPhone asks for a code to link n by phone number instead of QR. It
// waits (at most pairCodeWait) for the pairing's first QR code, before
// which whatsmeow cannot ask.
func (w *Whatsmeow) PairPhone(ctx context.Context, n *apiws.Number, phone string) (string, error) {
	p, err := normalizePhone(phone)
	if err != nil {
		return "", err
	}
	s, err := w.slot(n.ID)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	num := s.num.Load()
	pairing := num != nil && num.cancelPairing != nil
	s.mu.Unlock()
	if !pairing {
		return "", ErrNoPairing
	}
	if !w.wait(ctx, num.firstQR, pairCodeWait) {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("request pairing code: whatsapp has not started the pairing yet; try again")
	}
	code, err := num.client.PairPhone(ctx, phoneDigits(p), true, whatsmeow.PairClientChrome, pairDisplayName)
	if err != nil {
		return "", fmt.Errorf("request pairing code: %w", err)
	}
	return code, nil
}
