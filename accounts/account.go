package accounts

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Account implements apiws.AccountService.
func (s *Service) Account(ctx context.Context, id string) (*apiws.Account, error) {
	if err := apiws.RequireRead(ctx, id); err != nil {
		return nil, err
	}
	return s.db.Account(ctx, id)
}

// Viewer implements apiws.AccountService.
func (s *Service) Viewer(ctx context.Context) (*apiws.Account, error) {
	c := apiws.CallerFrom(ctx)
	if c.Kind != apiws.CredentialSession && c.Kind != apiws.CredentialAPIKey {
		return nil, nil
	}
	return s.db.Account(ctx, c.AccountID)
}

// UpdateAccount implements apiws.AccountService (rectification). Each
// changed field is written to the audit log with its old and new value. A
// new email needs the current password and is only mailed a code: the
// account keeps its email, and its mail (privacy codes included), until
// ConfirmEmailChange.
func (s *Service) UpdateAccount(ctx context.Context, upd apiws.AccountUpdate) (*apiws.Account, error) {
	c, err := apiws.RequireAccount(ctx, "")
	if err != nil {
		return nil, err
	}
	if c.Kind != apiws.CredentialSession {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "only a dashboard session may change the account")
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	var v validator
	var entries []*apiws.AuditEntry
	change := func(field, old, new string) {
		if old != new {
			entries = append(entries, audit(acc.ID, c, "account.rectify", fmt.Sprintf("%s: %q -> %q", field, old, new)))
		}
	}
	if upd.Name != nil {
		name := v.name(*upd.Name, path("name"))
		change("name", acc.Name, name)
		acc.Name = name
	}
	var newEmail string
	if upd.Email != nil {
		if email := v.email(*upd.Email, path("email")); email != acc.Email {
			newEmail = email
			if upd.CurrentPassword == nil || *upd.CurrentPassword == "" {
				v.add(apiws.EINVALID, path("currentPassword"), "give the current password to change the email")
			}
		}
	}
	if upd.Phone != nil {
		phone := v.phone(upd.Phone, path("phone"))
		if *upd.Phone == "" {
			phone = nil // an empty phone removes it
			v.errs = v.errs[:len(v.errs)-1]
		}
		change("phone", deref(acc.Phone), deref(phone))
		acc.Phone = phone
	}
	if upd.Business != nil {
		b := v.business(upd.Business)
		change("business", fmt.Sprint(businessString(acc.Business)), fmt.Sprint(businessString(b)))
		acc.Business = b
	}
	if err := v.errs.Err(); err != nil {
		return nil, err
	}
	var start *storage.EmailChangeStart
	if newEmail != "" {
		if err := s.checkCurrentPassword(ctx, c, acc, *upd.CurrentPassword, path("currentPassword")); err != nil {
			return nil, err
		}
		start = s.emailChange(acc, newEmail)
		entries = append(entries, audit(acc.ID, c, "account.email_change_requested", fmt.Sprintf("email: %q -> %q, waiting for the code", acc.Email, newEmail)))
	}
	if err := s.db.UpdateAccount(ctx, acc, entries, start); err != nil {
		return nil, err
	}
	if start != nil {
		s.mailQueued()
	}
	return acc, nil
}

func businessString(b *apiws.BusinessDetails) string {
	if b.Empty() {
		return ""
	}
	return fmt.Sprintf("name=%s website=%s country=%s vatId=%s address=%s",
		deref(b.Name), deref(b.Website), deref(b.Country), deref(b.VatID), deref(b.Address))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CurrentPolicy implements apiws.AccountService.
func (s *Service) CurrentPolicy(ctx context.Context) (*apiws.PolicyVersion, error) {
	ps, err := s.db.PolicyVersions(ctx)
	if err != nil {
		return nil, err
	}
	return policyAt(ps, s.now())
}

// policyAt returns the version in force at t: the latest one effective by
// then.
func policyAt(ps []*apiws.PolicyVersion, t time.Time) (*apiws.PolicyVersion, error) {
	for _, p := range ps { // newest first
		if !p.EffectiveAt.After(t) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no privacy policy in force at %s", t)
}

// PolicyVersions implements apiws.AccountService.
func (s *Service) PolicyVersions(ctx context.Context) ([]*apiws.PolicyVersion, error) {
	return s.db.PolicyVersions(ctx)
}

// AcceptPolicy implements apiws.AccountService: the version must be
// published (in force or announced).
func (s *Service) AcceptPolicy(ctx context.Context, version, ip string) (*apiws.Account, error) {
	c, err := apiws.RequireAccount(ctx, "")
	if err != nil {
		return nil, err
	}
	ps, err := s.db.PolicyVersions(ctx)
	if err != nil {
		return nil, err
	}
	found := false
	for _, p := range ps {
		found = found || p.Version == version
	}
	if !found {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"version"}, "no policy version %s", version)
	}
	now := s.now()
	consent := &apiws.Consent{AccountID: c.AccountID, PolicyVersion: version, AcceptedAt: now, IP: optional(ip)}
	if err := s.db.AddConsent(ctx, consent, audit(c.AccountID, c, "policy.accept", version)); err != nil {
		return nil, err
	}
	return s.db.Account(ctx, c.AccountID)
}

// Consents implements apiws.AccountService.
func (s *Service) Consents(ctx context.Context, accountID string) ([]*apiws.Consent, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.Consents(ctx, accountID)
}

// Accounts implements apiws.AccountService.
func (s *Service) Accounts(ctx context.Context, page apiws.Page, filter apiws.AccountFilter) (apiws.List[*apiws.Account], error) {
	if _, err := apiws.RequireOperator(ctx); err != nil {
		return apiws.List[*apiws.Account]{}, err
	}
	filter.Search = strings.TrimSpace(filter.Search)
	more := page.OneMore()
	accs, total, err := s.db.ListAccounts(ctx, more.First, more.After, filter)
	return apiws.ListOf(accs, page, total), err
}
