package numbers

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// DisconnectNumber implements apiws.NumberService. Disconnecting a pairing
// number cancels its pairing; it ends LOGGED_OUT, as it was never linked.
func (s *Service) DisconnectNumber(ctx context.Context, id string) (*apiws.Number, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return nil, err
	}
	n, err := s.callerNumber(ctx, c, id, "id")
	if err != nil {
		return nil, err
	}
	s.stopRetry(n.ID)
	if n.Status == apiws.NumberPairing {
		s.stopPairing(n.ID)
		return s.setStatus(ctx, n.ID, apiws.NumberLoggedOut, "pairing cancelled", func(n *apiws.Number) bool {
			return n.Status == apiws.NumberPairing
		})
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return nil, err
	}
	if apiws.Owns(s.owner, n.ID) {
		if err := conn.Disconnect(ctx, n); err != nil {
			return nil, fmt.Errorf("disconnect %s: %w", n.ID, err)
		}
	} else if err := s.tellOwner(ctx, "disconnect", n.ID); err != nil {
		return nil, fmt.Errorf("disconnect %s: %w", n.ID, err)
	}
	return s.setStatus(ctx, n.ID, apiws.NumberDisconnected, "disconnected by request", func(n *apiws.Number) bool {
		return n.Status == apiws.NumberConnected || n.Status == apiws.NumberConnecting
	})
}

// ReconnectNumber implements apiws.NumberService: a paired number connects
// again; one that was never linked, or was logged out, pairs again (with the
// same one-pairing-per-account rule as ConnectNumber).
func (s *Service) ReconnectNumber(ctx context.Context, id string) (*apiws.Number, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return nil, err
	}
	if err := s.requireActive(ctx, c.AccountID, "connect numbers"); err != nil {
		return nil, err
	}
	n, err := s.callerNumber(ctx, c, id, "id")
	if err != nil {
		return nil, err
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return nil, err
	}
	switch {
	case n.Status == apiws.NumberPairing:
		return nil, apiws.FieldError(apiws.ECONFLICT, []string{"id"}, "the number is pairing")
	case n.Status == apiws.NumberConnected:
		return n, nil
	case n.JID == nil || n.Status == apiws.NumberLoggedOut:
		return s.repair(ctx, n, conn)
	}
	if !apiws.Owns(s.owner, n.ID) {
		// The owner connects it; CONNECTED follows from there.
		if _, err := s.setStatus(ctx, n.ID, apiws.NumberConnecting, "connecting", nil); err != nil {
			return nil, err
		}
		if err := s.tellOwner(ctx, "connect", n.ID); err != nil {
			return nil, fmt.Errorf("reconnect %s: %w", n.ID, err)
		}
		return s.db.Number(ctx, c.AccountID, n.ID)
	}
	if err := s.connect(ctx, n, conn); err != nil {
		if errors.Is(err, whatsapp.ErrNotPaired) {
			return nil, apiws.FieldError(apiws.ENOTCONNECTED, []string{"id"}, "the number is no longer linked to WhatsApp; reconnect it again to pair it")
		}
		return nil, err
	}
	return s.db.Number(ctx, c.AccountID, n.ID)
}

// repair moves n back to PAIRING and starts a new pairing.
func (s *Service) repair(ctx context.Context, n *apiws.Number, conn whatsapp.Connector) (*apiws.Number, error) {
	toPairing := func() (*apiws.Number, error) {
		return s.setStatus(ctx, n.ID, apiws.NumberPairing, "pairing again", nil)
	}
	got, err := toPairing()
	if apiws.ErrorCodeOf(err) == apiws.ECONFLICT && s.abandonStale(ctx, n.AccountID) {
		got, err = toPairing()
	}
	if err != nil {
		return nil, err
	}
	if err := s.startPairing(got, conn); err != nil {
		return nil, err
	}
	return got, nil
}

// connect moves a paired number to CONNECTING and has its connector connect
// it; CONNECTED follows as a StateChange. A number whose device keys are
// gone ends LOGGED_OUT and the error wraps whatsapp.ErrNotPaired; any other
// failure leaves it DISCONNECTED and retried with backoff.
func (s *Service) connect(ctx context.Context, n *apiws.Number, conn whatsapp.Connector) error {
	err := s.connectOnce(ctx, n, conn)
	if err != nil && !errors.Is(err, whatsapp.ErrNotPaired) && !errors.Is(err, whatsapp.ErrClosed) {
		s.retryConnect(n.ID)
	}
	return err
}

// connectOnce is one attempt of connect.
func (s *Service) connectOnce(ctx context.Context, n *apiws.Number, conn whatsapp.Connector) error {
	if _, err := s.setStatus(ctx, n.ID, apiws.NumberConnecting, "connecting", nil); err != nil {
		return err
	}
	err := conn.Connect(ctx, n)
	if err == nil {
		return nil
	}
	status, reason := apiws.NumberDisconnected, "connect failed"
	if errors.Is(err, whatsapp.ErrNotPaired) {
		status, reason = apiws.NumberLoggedOut, "no device keys"
	}
	// The write must happen even if the request that asked has gone.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if _, serr := s.setStatus(wctx, n.ID, status, reason, func(n *apiws.Number) bool {
		return n.Status == apiws.NumberConnecting
	}); serr != nil {
		s.log.Error("record connect failure", "number", n.ID, "err", serr)
	}
	return fmt.Errorf("connect %s: %w", n.ID, err)
}

// RemoveNumber implements apiws.NumberService. The number is deleted, not
// kept as a tombstone: once messages refer to numbers, their metadata will
// keep the number id they were sent through.
func (s *Service) RemoveNumber(ctx context.Context, id string) error {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return err
	}
	n, err := s.callerNumber(ctx, c, id, "id")
	if err != nil {
		return err
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return err
	}
	s.stopPairing(n.ID)
	s.stopRetry(n.ID)
	// LOGGED_OUT first, so that the connector's own LOGGED_OUT report finds
	// nothing left to announce.
	if n, err = s.setStatus(ctx, n.ID, apiws.NumberLoggedOut, "removed", nil); err != nil {
		return err
	}
	if err := s.logOutWhereOwned(ctx, n, conn); err != nil {
		return fmt.Errorf("log out %s: %w", n.ID, err)
	}
	return s.db.DeleteNumber(ctx, c.AccountID, n.ID)
}

// HandleStateChange records a connection change a connector reported and
// publishes it. Changes of a PAIRING number are left to the pairing's
// outcome, which knows the device it linked. A LOGGED_OUT number connects
// again only through a new pairing, so a CONNECTED reported for one is the
// late report of a connection since ended (by a removal, say).
func (s *Service) HandleStateChange(sc *whatsapp.StateChange) {
	if !apiws.Owns(s.owner, sc.NumberID) {
		// A connection this instance let go of reports its end; the owner
		// speaks for the number now.
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if sc.Notice {
		s.notice(ctx, sc)
		return
	}
	n, err := s.setStatus(ctx, sc.NumberID, sc.Status, sc.Reason, func(n *apiws.Number) bool {
		stale := sc.Status == apiws.NumberConnected && n.Status == apiws.NumberLoggedOut
		if sc.Status == apiws.NumberBanned {
			n.BanExpiresAt = sc.BanExpiresAt // kept for a reconnect after a restart
		}
		return n.Status != apiws.NumberPairing && !stale
	})
	if err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND { // a removed number's last words
		s.log.Error("record number state", "number", sc.NumberID, "status", sc.Status, "err", err)
	}
	if err == nil && n.Status == sc.Status && sc.PushName != "" {
		s.notice(ctx, sc)
	}
	if err == nil && n.Status == apiws.NumberBanned && sc.BanExpiresAt != nil {
		s.reconnectAt(n.ID, *sc.BanExpiresAt)
	}
}

// notice records a number's new push name and tells subscribers news of
// its connection that does not change its status (keep-alive pings that
// fail or come back), as a status event with the same status.
func (s *Service) notice(ctx context.Context, sc *whatsapp.StateChange) {
	reason := sc.Reason
	if reason == "" {
		reason = "name changed"
	}
	_, _, ev, err := s.db.ChangeNumberLogged(ctx, sc.NumberID, func(n *apiws.Number) bool {
		if n.Status != sc.Status || sc.PushName == "" || n.PushName != nil && *n.PushName == sc.PushName {
			return false
		}
		name := sc.PushName
		n.PushName = &name
		return true
	}, &storage.StatusNote{At: sc.At, Reason: reason, Log: func(_ apiws.NumberStatus, n *apiws.Number, changed bool) bool {
		return n.Status == sc.Status && (changed || sc.Reason != "")
	}})
	if err != nil {
		if apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			s.log.Warn("record number notice", "number", sc.NumberID, "err", err)
		}
		return
	}
	s.publishStatus(ev)
}

// ConnectOwned connects a number this instance has just come to own (at
// start, or taken over from another instance), as recorded now: it may have
// been logged out or removed meanwhile. A number under a temporary ban is
// connected when the ban ends.
func (s *Service) ConnectOwned(ctx context.Context, n *apiws.Number) {
	cur, err := s.db.NumberByID(ctx, n.ID)
	if err != nil {
		if apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			s.log.Warn("connect owned number", "number", n.ID, "err", err)
		}
		return
	}
	switch cur.Status {
	case apiws.NumberBanned:
		if cur.BanExpiresAt != nil {
			s.reconnectAt(cur.ID, *cur.BanExpiresAt)
		}
		return
	case apiws.NumberPairing, apiws.NumberLoggedOut:
		return
	}
	conn, err := s.connector(cur.Sandbox)
	if err != nil {
		s.log.Warn("connect owned number", "number", n.ID, "err", err)
		return
	}
	if err := s.connect(ctx, cur, conn); err != nil {
		s.log.Warn("connect owned number", "number", n.ID, "err", err)
	}
}

// DisconnectReleased closes this instance's connection of a number it no
// longer owns, leaving the number's recorded state to its new owner.
func (s *Service) DisconnectReleased(n *apiws.Number) {
	s.stopRetry(n.ID)
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := conn.Disconnect(ctx, n); err != nil && !errors.Is(err, whatsapp.ErrNotConnected) {
		s.log.Warn("disconnect released number", "number", n.ID, "err", err)
	}
}
