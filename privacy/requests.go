package privacy

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Limits per account: ten requests an hour (each sends a mail), in a
// burst if need be, and a few code attempts a minute.
var (
	submitLimit = apiws.Limit{Rate: 10.0 / 3600, Burst: 10}
	verifyLimit = apiws.Limit{Rate: 10.0 / 60, Burst: 10}
)

// maxDetails is the longest free text a request may carry, in characters.
const maxDetails = 4000

// SubmitRequest implements apiws.PrivacyService.
func (s *Service) SubmitRequest(ctx context.Context, in apiws.NewPrivacyRequest) (*apiws.PrivacyRequest, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	var errs apiws.Errors
	if !in.Type.Valid() {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "type"}, "unknown request type"))
	}
	if in.Withdraw && in.Type != apiws.RequestRestriction && in.Type != apiws.RequestObjection {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "withdraw"}, "only a RESTRICTION or OBJECTION can be withdrawn"))
	}
	var details *string
	if in.Details != nil {
		if d := strings.TrimSpace(*in.Details); d != "" {
			details = &d
			if utf8.RuneCountInString(d) > maxDetails {
				errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "details"}, "must be at most %d characters", maxDetails))
			}
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	if in.Type == apiws.RequestErasure && acc.Status == apiws.AccountPendingDeletion {
		return nil, apiws.FieldError(apiws.ECONFLICT, []string{"input", "type"}, "the account is already pending deletion")
	}
	if err := s.limit(ctx, "submit", c.AccountID, submitLimit); err != nil {
		return nil, err
	}
	now := s.now()
	code := newCode()
	r := &apiws.PrivacyRequest{
		ID: apiws.NewID(apiws.PrefixPrivacyRequest), AccountID: acc.ID, Type: in.Type,
		Status: apiws.RequestPendingVerification, Details: details, Withdraw: in.Withdraw,
		SubmittedAt: now, DueAt: now.AddDate(0, 1, 0),
		CodeExpiresAt: ptr(now.Add(codeTTL)),
	}
	r.CodeHash = s.codeHash(r.ID, code)
	mail := verificationMail(acc, r, code)
	if err := s.db.CreatePrivacyRequest(ctx, r, mail, audit(acc.ID, c, "privacy_request.submit", string(r.Type)+" "+r.ID, now)); err != nil {
		return nil, err
	}
	s.mailQueued()
	return r, nil
}

// verificationMail is the mail carrying a request's code.
func verificationMail(acc *apiws.Account, r *apiws.PrivacyRequest, code string) *storage.OutgoingMail {
	what := string(r.Type)
	if r.Withdraw {
		what += " (withdrawal)"
	}
	body := fmt.Sprintf(`Hello %s,

someone signed in to your apiws account asked to exercise a privacy right: %s.

Your verification code is: %s

Enter it in the dashboard within %d minutes to confirm the request (%s).
It stops working after %d wrong tries. If you did not ask for this, ignore
this mail and consider changing your password.

apiws
`, acc.Name, what, code, int(codeTTL.Minutes()), r.ID, maxCodeAttempts)
	return newMail(acc, "Your apiws privacy request code", body, r.SubmittedAt)
}

// Request implements apiws.PrivacyService.
func (s *Service) Request(ctx context.Context, id string) (*apiws.PrivacyRequest, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.PrivacyRequest(ctx, c.AccountID, id)
}

// Requests implements apiws.PrivacyService.
func (s *Service) Requests(ctx context.Context, accountID string) ([]*apiws.PrivacyRequest, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.PrivacyRequests(ctx, accountID)
}

// Queue implements apiws.PrivacyService.
func (s *Service) Queue(ctx context.Context, statuses []apiws.PrivacyRequestStatus) ([]*apiws.PrivacyRequest, error) {
	if _, err := apiws.RequireOperator(ctx); err != nil {
		return nil, err
	}
	return s.db.PrivacyQueue(ctx, statuses)
}

// VerifyRequest implements apiws.PrivacyService. A wrong code is counted;
// the maxCodeAttempts-th rejects the request. Once verified the request is
// carried out at once.
func (s *Service) VerifyRequest(ctx context.Context, id, code string) (*apiws.PrivacyRequest, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	if !apiws.ValidID(id, apiws.PrefixPrivacyRequest) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such privacy request")
	}
	if err := s.limit(ctx, "verify", c.AccountID, verifyLimit); err != nil {
		return nil, err
	}
	now := s.now()
	codeField := []string{"code"}
	r, err := s.db.ChangePrivacyRequest(ctx, c.AccountID, id, func(r *apiws.PrivacyRequest) ([]*apiws.AuditEntry, bool, error) {
		switch {
		case r.Status == apiws.RequestRejected && r.CodeHash == nil:
			return nil, false, apiws.FieldError(apiws.EEXPIRED, codeField, "the code no longer works; submit the request again")
		case r.Status != apiws.RequestPendingVerification:
			return nil, false, apiws.FieldError(apiws.ECONFLICT, []string{"id"}, "the request is %s, not waiting for a code", r.Status)
		case r.CodeHash == nil || r.CodeExpiresAt == nil || !now.Before(*r.CodeExpiresAt):
			return nil, false, apiws.FieldError(apiws.EEXPIRED, codeField, "the code expired; submit the request again")
		}
		if !s.codeMatches(r.ID, code, r.CodeHash) {
			r.CodeAttempts++
			if r.CodeAttempts >= maxCodeAttempts {
				r.CodeHash, r.CodeExpiresAt = nil, nil
				r.Status, r.Resolution = apiws.RequestRejected, ptr("not verified: too many wrong codes")
				return []*apiws.AuditEntry{audit(r.AccountID, c, "privacy_request.reject", r.ID+": too many wrong codes", now)}, true,
					apiws.FieldError(apiws.EEXPIRED, codeField, "too many wrong codes; submit the request again")
			}
			return []*apiws.AuditEntry{audit(r.AccountID, c, "privacy_request.wrong_code", r.ID, now)}, true,
				apiws.FieldError(apiws.EINVALID, codeField, "wrong code; %d tries left", maxCodeAttempts-r.CodeAttempts)
		}
		r.CodeHash, r.CodeExpiresAt = nil, nil
		r.Status, r.VerifiedAt = apiws.RequestVerified, &now
		return []*apiws.AuditEntry{audit(r.AccountID, c, "privacy_request.verify", r.ID, now)}, false, nil
	})
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND && r == nil {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such privacy request")
	}
	if err != nil {
		return nil, err
	}
	return s.carryOut(ctx, c, r)
}

// CancelRequest implements apiws.PrivacyService: a request can be
// cancelled until it is carried out.
func (s *Service) CancelRequest(ctx context.Context, id string) (*apiws.PrivacyRequest, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	if !apiws.ValidID(id, apiws.PrefixPrivacyRequest) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such privacy request")
	}
	now := s.now()
	r, err := s.db.ChangePrivacyRequest(ctx, c.AccountID, id, func(r *apiws.PrivacyRequest) ([]*apiws.AuditEntry, bool, error) {
		if r.Status != apiws.RequestPendingVerification && r.Status != apiws.RequestVerified {
			return nil, false, apiws.FieldError(apiws.ECONFLICT, []string{"id"}, "the request is %s and can no longer be cancelled", r.Status)
		}
		r.Status, r.CodeHash, r.CodeExpiresAt = apiws.RequestCancelled, nil, nil
		r.Resolution = ptr("cancelled by the account")
		return []*apiws.AuditEntry{audit(r.AccountID, c, "privacy_request.cancel", r.ID, now)}, false, nil
	})
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such privacy request")
	}
	return r, err
}
