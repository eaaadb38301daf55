package numbers

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// ConnectNumber implements apiws.NumberService. The pairing runs on past
// the request, in this process, until its outcome.
func (s *Service) ConnectNumber(ctx context.Context, in apiws.NewNumber) (*apiws.Number, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return nil, err
	}
	if err := s.requireActive(ctx, c.AccountID, "connect numbers"); err != nil {
		return nil, err
	}
	if err := s.checkNumbersLimit(ctx, c.AccountID); err != nil {
		return nil, err
	}
	label, err := cleanLabel(in.Label)
	if err != nil {
		return nil, err
	}
	conn, err := s.connector(in.Sandbox)
	if err != nil {
		return nil, err
	}
	now := s.now()
	n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: c.AccountID, Label: label,
		Sandbox: in.Sandbox, Status: apiws.NumberPairing, CreatedAt: now}
	note := &storage.StatusNote{At: now}
	ev, err := s.db.CreateNumberLogged(ctx, n, note)
	if apiws.ErrorCodeOf(err) == apiws.ECONFLICT && s.abandonStale(ctx, c.AccountID) {
		ev, err = s.db.CreateNumberLogged(ctx, n, note)
	}
	if err != nil {
		return nil, err
	}
	s.publishStatus(ev)
	if err := s.startPairing(n, conn); err != nil {
		return nil, err
	}
	return n, nil
}

// checkNumbersLimit refuses one number more than the account's plan
// allows (QUOTA_EXCEEDED). Two connects racing past the last free place
// may both pass.
func (s *Service) checkNumbersLimit(ctx context.Context, accountID string) error {
	if s.plans == nil {
		return nil
	}
	p, err := s.plans.AccountPlan(ctx, accountID)
	if err != nil {
		return err
	}
	n, err := s.db.CountNumbers(ctx, accountID)
	if err != nil {
		return err
	}
	if n >= p.NumbersLimit {
		return apiws.FieldError(apiws.EQUOTAEXCEEDED, []string{"input"}, "the plan allows %d numbers; remove one to connect another", p.NumbersLimit)
	}
	return nil
}

// abandonStale gives up the account's pairings whose instance is gone, and
// reports whether there were any.
func (s *Service) abandonStale(ctx context.Context, accountID string) bool {
	k, err := s.db.AbandonStalePairings(ctx, accountID, s.now().Add(-staleAfter))
	if err != nil {
		s.log.Warn("abandon stale pairings", "account", accountID, "err", err)
	}
	return k > 0
}

// startPairing starts the connector's pairing of n, which is PAIRING, and
// follows it in the background. If it cannot start, n ends LOGGED_OUT.
func (s *Service) startPairing(n *apiws.Number, conn whatsapp.Connector) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.pairingFailed(n, &whatsapp.PairFailure{Reason: whatsapp.PairCancelled, Message: "the server is shutting down"})
		return apiws.Errorf(apiws.EUNAVAILABLE, "the server is shutting down")
	}
	ctx, cancel := context.WithCancel(s.ctx)
	p := &pairing{cancel: cancel, done: make(chan struct{})}
	s.pairings[n.ID] = p
	s.wg.Add(1)
	s.mu.Unlock()

	ch, err := conn.PairQR(ctx, n)
	if err != nil {
		s.forgetPairing(n.ID, p)
		close(p.done)
		s.wg.Done()
		s.pairingFailed(n, &whatsapp.PairFailure{Reason: whatsapp.PairError, Message: "pairing could not start"})
		if errors.Is(err, whatsapp.ErrPairing) {
			return apiws.Errorf(apiws.ECONFLICT, "a pairing is already under way for this number")
		}
		return fmt.Errorf("start pairing %s: %w", n.ID, err)
	}
	go s.follow(n, p, ch)
	return nil
}

// forgetPairing drops p, the pairing of number id, from those this process
// runs, and releases its context.
func (s *Service) forgetPairing(id string, p *pairing) {
	s.mu.Lock()
	if s.pairings[id] == p {
		delete(s.pairings, id)
	}
	s.mu.Unlock()
	p.cancel()
}

// stopPairing cancels the pairing of the number, if this process runs one,
// and waits until its outcome is recorded, so that no late write of it
// lands on whatever the caller does next with the number.
func (s *Service) stopPairing(id string) {
	s.mu.Lock()
	p := s.pairings[id]
	s.mu.Unlock()
	if p != nil {
		p.cancel()
		<-p.done
	}
}

// follow records and publishes each step of a pairing until its outcome.
func (s *Service) follow(n *apiws.Number, p *pairing, ch <-chan whatsapp.PairEvent) {
	defer s.wg.Done()
	defer close(p.done)
	defer s.forgetPairing(n.ID, p)
	for ev := range ch {
		switch {
		case ev.QR != nil:
			s.pairingQR(n, ev.QR)
		case ev.Linked != nil:
			s.pairingLinked(n, ev.Linked)
		case ev.Success != nil:
			s.pairingSucceeded(n, ev.Success)
			return
		case ev.Failure != nil:
			s.pairingFailed(n, ev.Failure)
			return
		}
	}
	s.pairingFailed(n, &whatsapp.PairFailure{Reason: whatsapp.PairError, Message: "pairing ended without an outcome"})
}

// pairingQR keeps the QR code in force in the row, for late subscribers on
// any instance, and publishes it.
func (s *Service) pairingQR(n *apiws.Number, qr *whatsapp.QRCode) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	code := &apiws.PairingQRCode{Code: qr.Code, Image: qr.PNG, ExpiresAt: qr.ExpiresAt.UTC()}
	_, changed, err := s.db.ChangeNumber(ctx, n.ID, func(n *apiws.Number) bool {
		if n.Status != apiws.NumberPairing {
			return false // cancelled meanwhile; the outcome follows
		}
		n.Pairing, n.PairingExpiresAt = code, &code.ExpiresAt
		return true
	})
	if err != nil {
		s.log.Warn("record pairing qr code", "number", n.ID, "err", err)
		return
	}
	if changed {
		s.publish(n, apiws.EventPairing, pairingData{QR: code})
	}
}

// pairingLinked records that the phone accepted the link: the number has
// its phone and device and is CONNECTING until the pairing's outcome (or
// the connector's CONNECTED) says more.
func (s *Service) pairingLinked(n *apiws.Number, l *whatsapp.PairSuccess) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	at := s.now()
	_, _, ev, err := s.db.ChangeNumberLogged(ctx, n.ID, func(n *apiws.Number) bool {
		if n.Status != apiws.NumberPairing {
			return false // cancelled meanwhile; the outcome follows
		}
		n.Phone, n.JID = &l.Phone, &l.JID
		n.PushName = nil
		if l.PushName != "" {
			n.PushName = &l.PushName
		}
		n.Status = apiws.NumberConnecting
		n.Pairing, n.PairingExpiresAt = nil, nil
		return true
	}, &storage.StatusNote{At: at, Reason: "linked; connecting"})
	if err != nil {
		s.log.Error("record pairing link", "number", n.ID, "err", err)
		return
	}
	s.publishStatus(ev)
}

// pairingSucceeded records the linked device. It does so even if the number
// left PAIRING meanwhile: the device is linked, and its keys are stored.
func (s *Service) pairingSucceeded(n *apiws.Number, ok *whatsapp.PairSuccess) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	// The lease comes first: once the number reads CONNECTED, whoever
	// reads it finds its owner here (a call on it is not asked over the
	// bus for want of one).
	claimed := s.owner == nil || s.owner.Claim(ctx, n)
	at := s.now()
	status, reason := apiws.NumberConnected, "paired"
	if ok.Status != "" && ok.Status != apiws.NumberConnected {
		// Linked, but its connection is not up: the connector goes on
		// trying, and reports CONNECTED when it is.
		status, reason = ok.Status, ok.Reason
	}
	got, _, ev, err := s.db.ChangeNumberLogged(ctx, n.ID, func(n *apiws.Number) bool {
		n.Phone, n.JID = &ok.Phone, &ok.JID
		n.PushName = nil
		if ok.PushName != "" {
			n.PushName = &ok.PushName
		}
		n.Status = status
		if status == apiws.NumberConnected {
			n.ConnectedAt, n.LastSeenAt = &at, &at
		}
		n.Pairing, n.PairingExpiresAt = nil, nil
		return true
	}, &storage.StatusNote{At: at, Reason: reason})
	if err != nil {
		s.log.Error("record pairing success", "number", n.ID, "err", err)
		return
	}
	if !claimed {
		// Another instance holds the number: two connections with the same
		// keys would make WhatsApp drop one, so this one goes.
		s.log.Warn("a number paired here is owned by another instance", "number", n.ID)
		s.DisconnectReleased(got)
	}
	s.publish(got, apiws.EventPairing, pairingData{Success: got})
	s.publishStatus(ev)
}

// pairingFailed ends a pairing: the number was never linked, so it is
// LOGGED_OUT; reconnectNumber pairs it again.
func (s *Service) pairingFailed(n *apiws.Number, f *whatsapp.PairFailure) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if _, err := s.setStatus(ctx, n.ID, apiws.NumberLoggedOut, "pairing failed: "+string(f.Reason), func(n *apiws.Number) bool {
		return n.Status == apiws.NumberPairing
	}); err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
		s.log.Error("record pairing failure", "number", n.ID, "err", err)
	}
	s.publish(n, apiws.EventPairing, pairingData{Failure: &apiws.PairingFailure{Reason: string(f.Reason), Message: f.Message}})
}

// RequestPairingCode implements apiws.NumberService. The pairing must run
// in this process: the connector holds it.
func (s *Service) RequestPairingCode(ctx context.Context, numberID, phone string) (string, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return "", err
	}
	if err := s.requireActive(ctx, c.AccountID, "connect numbers"); err != nil {
		return "", err
	}
	n, err := s.callerNumber(ctx, c, numberID, "numberId")
	if err != nil {
		return "", err
	}
	e164, ok := phones.Normalize(phone)
	if !ok {
		return "", apiws.FieldError(apiws.EINVALID, []string{"phone"}, "not a valid phone number")
	}
	notPairing := apiws.FieldError(apiws.ECONFLICT, []string{"numberId"}, "the number is not pairing; reconnect it to pair it")
	if n.Status != apiws.NumberPairing {
		return "", notPairing
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return "", err
	}
	code, err := conn.PairPhone(ctx, n, e164)
	switch {
	case errors.Is(err, whatsapp.ErrNoPairing):
		return "", notPairing
	case errors.Is(err, whatsapp.ErrInvalidPhone):
		return "", apiws.FieldError(apiws.EINVALID, []string{"phone"}, "not a valid phone number")
	case err != nil:
		return "", fmt.Errorf("pairing code for %s: %w", n.ID, err)
	}
	return code, nil
}
