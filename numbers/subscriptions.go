package numbers

import (
	"context"
	"encoding/json"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// Pairing implements apiws.NumberService. It subscribes before it reads the
// row, so nothing published after the read is missed; a QR code seen both
// ways is sent once. After missed events it reads the row again.
func (s *Service) Pairing(ctx context.Context, numberID string) (<-chan apiws.PairingEvent, error) {
	// Whoever scans a QR code links the number: seeing them is managing
	// numbers, not reading.
	c, err := apiws.RequireAccount(ctx, apiws.ScopeManageNumbers)
	if err != nil {
		return nil, err
	}
	f, err := events.NewFollower(ctx, s.bus, c.AccountID, apiws.EventPairing)
	if err != nil {
		return nil, err
	}
	n, err := s.subscribedNumber(ctx, c, numberID)
	if err != nil {
		f.Close()
		return nil, err
	}
	out := make(chan apiws.PairingEvent, 1)
	go func() {
		defer close(out)
		defer f.Close()
		var lastQR string
		send := func(ev apiws.PairingEvent) bool {
			if qr, ok := ev.(*apiws.PairingQRCode); ok {
				if qr.Code == lastQR {
					return true
				}
				lastQR = qr.Code
			}
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// fromRow sends what the row says; final reports an outcome.
		fromRow := func(n *apiws.Number) (final bool) {
			ev, final := pairingState(n)
			if ev != nil && !send(ev) {
				return true
			}
			return final
		}
		if fromRow(n) {
			return
		}
		for {
			ev, err := f.Next()
			if err != nil {
				s.endStream(ctx, err)
				return
			}
			switch {
			case ev.Kind == apiws.EventResync:
				n, err := s.db.Number(ctx, c.AccountID, numberID)
				if err != nil {
					s.endStream(ctx, err)
					return
				}
				if fromRow(n) {
					return
				}
			case ev.Kind == apiws.EventPairing && ev.NumberID == numberID:
				var d pairingData
				if err := json.Unmarshal(ev.Data, &d); err != nil {
					s.log.Error("decode pairing event", "number", numberID, "err", err)
					continue
				}
				switch {
				case d.QR != nil:
					if !send(d.QR) {
						return
					}
				case d.Success != nil:
					send(&apiws.PairingSuccess{Number: d.Success})
					return
				case d.Failure != nil:
					send(d.Failure)
					return
				}
			}
		}
	}()
	return out, nil
}

// pairingState is what a number's row says of its pairing: the QR code in
// force (nil if none yet) or, once it is over, the outcome (final).
func pairingState(n *apiws.Number) (ev apiws.PairingEvent, final bool) {
	switch {
	case n.Status == apiws.NumberPairing:
		if n.Pairing != nil {
			return n.Pairing, false
		}
		return nil, false
	case n.JID != nil && n.Status != apiws.NumberLoggedOut:
		return &apiws.PairingSuccess{Number: n}, true
	}
	return &apiws.PairingFailure{Reason: "NOT_PAIRING", Message: "the number is not pairing; reconnect it to pair it"}, true
}

// endStream ends a subscription's stream with err, unless its client left.
func (s *Service) endStream(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if apiws.ErrorCodeOf(err) == apiws.EINTERNAL {
		s.log.Warn("subscription ended", "err", err)
		err = errStreamInterrupted
	}
	apiws.EndStream(ctx, err)
}

// errStreamInterrupted ends a subscription that cannot go on (the server is
// shutting down, or the database cannot be read): the client subscribes
// again.
var errStreamInterrupted = apiws.Errorf(apiws.EUNAVAILABLE, "the stream was interrupted; subscribe again")

// subscribedNumber returns the caller's number for a subscription, where
// there is no payload for a userError: a missing (or another account's)
// number is a NOT_FOUND error.
func (s *Service) subscribedNumber(ctx context.Context, c *apiws.Caller, id string) (*apiws.Number, error) {
	if !apiws.ValidID(id, apiws.PrefixNumber) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "no such number")
	}
	n, err := s.db.Number(ctx, c.AccountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "no such number")
	}
	return n, err
}
