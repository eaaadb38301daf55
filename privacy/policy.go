package privacy

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// versionPattern keeps policy versions short and printable ("2.0",
// "2026-11").
var versionPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.\-]{0,31}$`)

// clockSkew tolerates an effectiveAt "now" that reached us a moment late.
const clockSkew = time.Minute

// PublishPolicy implements apiws.PrivacyService. A material change must take
// effect at least MaterialChangeNotice after publishing; no version takes
// effect in the past. Every account gets a notice and a mail.
func (s *Service) PublishPolicy(ctx context.Context, p apiws.PolicyVersion) (*apiws.PolicyVersion, error) {
	c, err := apiws.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	p.Version, p.Summary = strings.TrimSpace(p.Version), strings.TrimSpace(p.Summary)
	p.EffectiveAt, p.PublishedAt = p.EffectiveAt.UTC(), now
	var errs apiws.Errors
	if !versionPattern.MatchString(p.Version) {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "version"}, "use 1 to 32 letters, digits, dots or dashes"))
	}
	if p.Summary == "" || utf8.RuneCountInString(p.Summary) > 2000 {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "summary"}, "must be 1 to 2000 characters"))
	}
	switch {
	case p.Material && p.EffectiveAt.Before(now.Add(apiws.MaterialChangeNotice)):
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "effectiveAt"},
			"a material change takes effect at least %d days after publishing (%s at the earliest)",
			int(apiws.MaterialChangeNotice.Hours()/24), now.Add(apiws.MaterialChangeNotice).Format(time.RFC3339)))
	case p.EffectiveAt.Before(now.Add(-clockSkew)):
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", "effectiveAt"}, "must not be in the past"))
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	title := "Privacy policy " + p.Version
	body := policyNoticeBody(&p)
	n, err := s.db.PublishPolicy(ctx, &p, func(acc *apiws.Account) (*apiws.Notice, *storage.OutgoingMail) {
		notice := &apiws.Notice{ID: apiws.NewID(apiws.PrefixNotice), AccountID: acc.ID, Title: title, Body: body,
			PolicyVersion: &p.Version, CreatedAt: now}
		mail := newMail(acc, "apiws: "+title, fmt.Sprintf("Hello %s,\n\n%s\n\napiws\n", acc.Name, body), now)
		return notice, mail
	}, audit("", c, "policy.publish", fmt.Sprintf("%s effective %s material=%t", p.Version, p.EffectiveAt.Format(time.RFC3339), p.Material), now))
	if err != nil {
		return nil, err
	}
	s.log.Info("policy published", "version", p.Version, "accounts", n)
	s.mailQueued()
	return &p, nil
}

// policyNoticeBody tells an account what changes and what to do.
func policyNoticeBody(p *apiws.PolicyVersion) string {
	kind := "This change is not material"
	if p.Material {
		kind = "This is a material change"
	}
	return fmt.Sprintf("We publish version %s of the apiws privacy policy. It takes effect on %s.\n\n%s\n\n%s; "+
		"you can read it in the dashboard and accept it with acceptPolicy. If you do not agree, you may erase "+
		"your account before it takes effect.", p.Version, p.EffectiveAt.Format("2 January 2006 15:04 MST"), p.Summary, kind)
}

// Notices implements apiws.PrivacyService.
func (s *Service) Notices(ctx context.Context, accountID string, unreadOnly bool) ([]*apiws.Notice, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.Notices(ctx, accountID, unreadOnly)
}

// DismissNotice implements apiws.PrivacyService.
func (s *Service) DismissNotice(ctx context.Context, id string) (bool, error) {
	c, err := apiws.RequireAccount(ctx, "")
	if err != nil {
		return false, err
	}
	if !apiws.ValidID(id, apiws.PrefixNotice) {
		return false, nil
	}
	return s.db.DismissNotice(ctx, c.AccountID, id, s.now())
}

// SetLegalHold implements apiws.PrivacyService. While held, the account's
// data is deleted by nothing: neither the end of an erasure's grace nor a
// retention period.
func (s *Service) SetLegalHold(ctx context.Context, accountID string, hold bool, reason string) (*apiws.Account, error) {
	c, err := apiws.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > 2000 {
		return nil, apiws.FieldError(apiws.EINVALID, []string{"reason"}, "give a reason of 1 to 2000 characters")
	}
	acc, err := s.db.Account(ctx, accountID)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"accountId"}, "no such account")
	} else if err != nil {
		return nil, err
	}
	action := "legal_hold.release"
	if hold {
		action = "legal_hold.set"
	}
	acc.LegalHold = hold
	if err := s.db.UpdateAccountState(ctx, acc, audit(acc.ID, c, action, reason, s.now())); err != nil {
		return nil, err
	}
	return acc, nil
}

// Notice implements apiws.PrivacyService.
func (s *Service) Notice(ctx context.Context, id string) (*apiws.Notice, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.Notice(ctx, c.AccountID, id)
}
