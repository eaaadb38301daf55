package numbers

import (
	"context"
	"errors"
	"fmt"

	"github.com/apiws/apiws"
)

// LogOutAll logs every number of the account out of WhatsApp and deletes
// its device keys, for an erasure: the numbers stay, LOGGED_OUT, so that a
// restored account sees them (and pairs them again), and the final purge
// deletes them. It goes on past a failure and reports every failure.
func (s *Service) LogOutAll(ctx context.Context, accountID string) error {
	var errs []error
	after := ""
	for {
		ns, _, err := s.db.ListNumbers(ctx, accountID, nil, apiws.MaxPageSize, after)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if err := s.logOut(ctx, n); err != nil {
				errs = append(errs, fmt.Errorf("log out %s: %w", n.ID, err))
			}
		}
		if len(ns) < apiws.MaxPageSize {
			return errors.Join(errs...)
		}
		after = ns[len(ns)-1].ID
	}
}

// logOut ends one number's pairing or session for good.
func (s *Service) logOut(ctx context.Context, n *apiws.Number) error {
	s.stopPairing(n.ID)
	s.stopRetry(n.ID)
	if n.Status == apiws.NumberLoggedOut {
		return nil
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return err
	}
	// LOGGED_OUT first, so that the connector's own report finds nothing
	// left to announce.
	if n, err = s.setStatus(ctx, n.ID, apiws.NumberLoggedOut, "account erased", nil); err != nil {
		return err
	}
	if n.JID == nil {
		return nil // never paired: no device keys
	}
	return s.logOutWhereOwned(ctx, n, conn)
}
