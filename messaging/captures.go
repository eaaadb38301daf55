package messaging

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
)

// MaxCapture is the longest a debug capture may run.
const MaxCapture = 30 * 24 * time.Hour

// GrantDebugCapture records the customer's permission to keep the message
// content of one number until until (at most 30 days ahead).
func (s *Service) GrantDebugCapture(ctx context.Context, numberID string, until time.Time, reason string) (*apiws.DebugCapture, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	// An account on its way out keeps no more content: granting, like
	// sending, waits for a restore.
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	if acc.Status != apiws.AccountActive {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "the account is pending deletion; restore it to grant a debug capture")
	}
	now := s.now()
	var errs apiws.Errors
	if _, err := s.numbers.Number(ctx, c.AccountID, numberID); apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		errs = append(errs, apiws.FieldError(apiws.ENOTFOUND, field("numberId"), "no such number"))
	} else if err != nil {
		return nil, err
	}
	if !until.After(now) || until.Sub(now) > MaxCapture {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("until"), "must be in the future and at most 30 days ahead"))
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 500 {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, field("reason"), "must be 1 to 500 characters"))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	dc := &apiws.DebugCapture{ID: apiws.NewID(apiws.PrefixDebugCapture), AccountID: c.AccountID, NumberID: numberID,
		Reason: reason, CreatedAt: now, Until: until.UTC()}
	entry := apiws.NewAuditEntry(c.AccountID, c, "debug_capture.grant", dc.ID, now)
	if err := s.db.CreateDebugCapture(ctx, dc, entry); err != nil {
		return nil, err
	}
	return dc, nil
}

// RevokeDebugCapture ends a capture and deletes the content it kept at once.
func (s *Service) RevokeDebugCapture(ctx context.Context, id string) (*apiws.DebugCapture, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	entry := apiws.NewAuditEntry(c.AccountID, c, "debug_capture.revoke", id, now)
	dc, err := s.db.RevokeDebugCapture(ctx, c.AccountID, id, now, entry)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such debug capture")
	}
	return dc, err
}

// DebugCaptures lists an account's captures.
func (s *Service) DebugCaptures(ctx context.Context, accountID string) ([]*apiws.DebugCapture, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.DebugCaptures(ctx, accountID)
}

// DebugCapture returns one capture of the caller's account.
func (s *Service) DebugCapture(ctx context.Context, id string) (*apiws.DebugCapture, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.DebugCapture(ctx, c.AccountID, id)
}

// PurgeExpiredCaptures deletes content whose capture ended; the retention
// sweeper calls it.
func (s *Service) PurgeExpiredCaptures(ctx context.Context, now time.Time) (int, error) {
	return s.db.PurgeCapturedContent(ctx, now)
}
