package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws"
)

// carryOut takes a VERIFIED request through PROCESSING to COMPLETED, each
// step written and audited, so a request interrupted midway is visible as
// such in the queue.
func (s *Service) carryOut(ctx context.Context, c *apiws.Caller, r *apiws.PrivacyRequest) (*apiws.PrivacyRequest, error) {
	r.Status = apiws.RequestProcessing
	if err := s.db.UpdatePrivacyRequest(ctx, r, audit(r.AccountID, nil, "privacy_request.process", string(r.Type)+" "+r.ID, s.now())); err != nil {
		return nil, err
	}
	var err error
	switch r.Type {
	case apiws.RequestAccess, apiws.RequestPortability:
		err = s.export(ctx, r)
	case apiws.RequestRectification:
		err = s.rectify(ctx, r)
	case apiws.RequestErasure:
		err = s.erase(ctx, c, r)
	case apiws.RequestRestriction, apiws.RequestObjection:
		err = s.restrict(ctx, r)
	default:
		err = fmt.Errorf("privacy request %s: unknown type %q", r.ID, r.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("carry out %s: %w", r.ID, err)
	}
	return r, nil
}

// complete marks r completed now with a resolution and returns the audit
// entry for it.
func (s *Service) complete(r *apiws.PrivacyRequest, resolution string) *apiws.AuditEntry {
	now := s.now()
	r.Status, r.CompletedAt, r.Resolution = apiws.RequestCompleted, &now, &resolution
	return audit(r.AccountID, nil, "privacy_request.complete", string(r.Type)+" "+r.ID, now)
}

// rectify completes a RECTIFICATION: the account corrects its data itself
// with updateAccount, which writes every change, old and new value, to the
// audit log; the request records what the person asked for and points
// there.
func (s *Service) rectify(ctx context.Context, r *apiws.PrivacyRequest) error {
	done := s.complete(r, "Correct your name, email, phone or business details with updateAccount (the dashboard's account page); "+
		"every change is applied at once and recorded in the audit log with its old and new value. "+
		"apiws holds no other personal data that updateAccount cannot correct.")
	return s.db.ApplyRequest(ctx, r, nil, done)
}

// restrict completes a RESTRICTION (sending and analytics stop) or an
// OBJECTION (analytics stop), or lifts one when the request withdraws it.
func (s *Service) restrict(ctx context.Context, r *apiws.PrivacyRequest) error {
	acc, err := s.db.Account(ctx, r.AccountID)
	if err != nil {
		return err
	}
	on := !r.Withdraw
	var flag, resolution string
	if r.Type == apiws.RequestRestriction {
		acc.ProcessingRestricted, flag = on, "processing_restricted"
		resolution = "Processing is restricted: sending is refused and the account is left out of every statistic across accounts."
		if !on {
			resolution = "The restriction is lifted: sending and statistics work again."
		}
	} else {
		acc.AnalyticsObjected, flag = on, "analytics_objected"
		resolution = "Objection recorded: the account is left out of every statistic for service improvement."
		if !on {
			resolution = "The objection is withdrawn."
		}
	}
	change := audit(acc.ID, nil, "account."+flag, fmt.Sprintf("%t (request %s)", on, r.ID), s.now())
	return s.db.ApplyRequest(ctx, r, acc, change, s.complete(r, resolution))
}

// erase completes an ERASURE: the account goes PENDING_DELETION for
// ErasureGrace, its API keys are revoked and sending stops at once, its
// numbers are logged out and their device keys deleted. The sweep purges
// it when the grace ends, unless restored or held.
func (s *Service) erase(ctx context.Context, c *apiws.Caller, r *apiws.PrivacyRequest) error {
	acc, err := s.db.Account(ctx, r.AccountID)
	if err != nil {
		return err
	}
	now := s.now()
	at := now.Add(apiws.ErasureGrace)
	acc.Status, acc.DeletionScheduledAt = apiws.AccountPendingDeletion, &at
	resolution := fmt.Sprintf("The account will be deleted for good at %s; until then restoreAccount undoes this. "+
		"API keys are revoked and WhatsApp numbers logged out. Invoices are kept for %d years under a pseudonym, without name, email or phone.",
		at.Format(time.RFC3339), apiws.FinancialRetentionYears)
	scheduled := audit(acc.ID, c, "account.erasure_scheduled", "until "+at.Format(time.RFC3339)+" (request "+r.ID+")", now)
	if err := s.db.ScheduleErasure(ctx, acc, r, now, scheduled, s.complete(r, resolution)); err != nil {
		return err
	}
	if s.opts.CredentialsRevoked != nil {
		s.opts.CredentialsRevoked(ctx, acc.ID, "")
	}
	if s.opts.Numbers != nil {
		// The erasure stands even when a logout fails (WhatsApp
		// unreachable): the purge deletes the device keys in any case.
		if err := s.opts.Numbers.LogOutAll(ctx, acc.ID); err != nil {
			s.log.Warn("log out numbers of an erased account", "account", acc.ID, "err", err)
		}
	}
	return nil
}

// RestoreAccount implements apiws.PrivacyService.
func (s *Service) RestoreAccount(ctx context.Context) (*apiws.Account, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if acc.Status != apiws.AccountPendingDeletion {
		return nil, apiws.Errorf(apiws.ECONFLICT, "the account is not pending deletion")
	}
	if acc.DeletionScheduledAt != nil && !now.Before(*acc.DeletionScheduledAt) {
		return nil, apiws.Errorf(apiws.EEXPIRED, "the recovery window ended at %s", acc.DeletionScheduledAt.Format(time.RFC3339))
	}
	acc.Status, acc.DeletionScheduledAt = apiws.AccountActive, nil
	if err := s.db.UpdateAccountState(ctx, acc, audit(acc.ID, c, "account.restore", "", now)); err != nil {
		return nil, err
	}
	return acc, nil
}
