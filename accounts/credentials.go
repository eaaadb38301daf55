package accounts

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Email change codes: six digits mailed to the new address, valid for
// emailCodeTTL and for maxEmailCodeAttempts wrong tries (with the per-account
// limit on attempts, guessing one is hopeless).
const (
	emailCodeTTL         = 30 * time.Minute
	maxEmailCodeAttempts = 5
)

// ChangePassword implements apiws.AccountService.
func (s *Service) ChangePassword(ctx context.Context, current, next string) (*apiws.Account, string, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, "", err
	}
	var v validator
	v.password(next, path("newPassword"))
	if err := v.errs.Err(); err != nil {
		return nil, "", err
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, "", err
	}
	if err := s.checkCurrentPassword(ctx, c, acc, current, path("currentPassword")); err != nil {
		return nil, "", err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	token, sess := s.newSession(acc.ID, now, c.IP, c.UserAgent)
	nc := &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID, IP: c.IP}
	notice := mailTo(acc, acc.Email, "Your apiws password was changed", fmt.Sprintf(`Hello %s,

the password of your apiws account was changed, and every dashboard session
was ended (API keys keep working). If you did not do this, someone else
may hold your account: tell the people who run this apiws at once.
`, acc.Name), now)
	if err := s.db.ChangePassword(ctx, acc.ID, hash, sess, notice, audit(acc.ID, nc, "account.password_change", "every other session ended")); err != nil {
		return nil, "", err
	}
	s.CredentialsRevoked(ctx, acc.ID, "")
	s.mailQueued()
	acc.PasswordHash = hash
	return acc, token, nil
}

// checkCurrentPassword refuses a wrong current password as
// WRONG_CREDENTIALS on field, and too many tries for the account as
// RATE_LIMITED: a stolen session must not become a password oracle.
func (s *Service) checkCurrentPassword(ctx context.Context, c *apiws.Caller, acc *apiws.Account, password string, field []string) error {
	if err := s.allow(ctx, "password:account:"+acc.ID, passwordChangePerAccount); err != nil {
		return err
	}
	ok, err := s.check(ctx, acc.PasswordHash, password)
	if err != nil {
		return err
	}
	if !ok {
		_ = s.db.Audit(ctx, audit(acc.ID, c, "account.password_check_failed", ""))
		return apiws.FieldError(apiws.EWRONGCREDENTIALS, field, "wrong password")
	}
	return nil
}

// emailChange makes the pending change of acc's email to newEmail, the
// mail carrying its code to the new address and a notice to the current
// one.
func (s *Service) emailChange(acc *apiws.Account, newEmail string) *storage.EmailChangeStart {
	now := s.now()
	code := newCode()
	ch := &apiws.EmailChange{
		AccountID: acc.ID, NewEmail: newEmail, CreatedAt: now, ExpiresAt: now.Add(emailCodeTTL),
	}
	ch.CodeHash = s.codeHash(ch, code)
	body := fmt.Sprintf(`Hello %s,

someone (we hope you) asked to change the email of your apiws account to
this address. To confirm, enter the code in the dashboard's settings (or
send it with the confirmEmailChange mutation).

Your verification code is: %s

The code works for %d minutes and for %d tries. Until it is confirmed, the
account keeps its current email. If you did not ask for this, ignore this
mail: nothing changes.
`, acc.Name, code, int(emailCodeTTL.Minutes()), maxEmailCodeAttempts)
	notice := fmt.Sprintf(`Hello %s,

someone (we hope you) asked to change the email of your apiws account to
%s. It changes only once the code mailed there is entered; until then this
address keeps receiving the account's mail. If you did not ask for this,
change your password at once.
`, acc.Name, newEmail)
	return &storage.EmailChangeStart{Change: ch, Mails: []*storage.OutgoingMail{
		mailTo(acc, newEmail, "Confirm the new email of your apiws account", body, now),
		mailTo(acc, acc.Email, "A new email was asked for your apiws account", notice, now),
	}}
}

// mailTo makes an outbox mail about acc to an address, due at once.
func mailTo(acc *apiws.Account, to, subject, body string, at time.Time) *storage.OutgoingMail {
	return &storage.OutgoingMail{
		ID: apiws.NewID("mail"), AccountID: &acc.ID, To: to, Subject: subject, Body: body, CreatedAt: at, NextAttemptAt: at,
	}
}

// ConfirmEmailChange implements apiws.AccountService.
func (s *Service) ConfirmEmailChange(ctx context.Context, code string) (*apiws.Account, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.allow(ctx, "email_code:account:"+c.AccountID, emailCodePerAccount); err != nil {
		return nil, err
	}
	before, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	field := []string{"code"}
	acc, err := s.db.ResolveEmailChange(ctx, c.AccountID, func(ch *apiws.EmailChange) (storage.EmailChangeVerdict, []*apiws.AuditEntry, error) {
		if !now.Before(ch.ExpiresAt) {
			return storage.EmailChangeDrop, nil, apiws.FieldError(apiws.EEXPIRED, field, "the code expired; change the email again")
		}
		if !hmac.Equal(s.codeHash(ch, code), ch.CodeHash) {
			ch.CodeAttempts++
			if ch.CodeAttempts >= maxEmailCodeAttempts {
				return storage.EmailChangeDrop, []*apiws.AuditEntry{audit(c.AccountID, c, "account.email_change_rejected", "too many wrong codes")},
					apiws.FieldError(apiws.EEXPIRED, field, "too many wrong codes; change the email again")
			}
			return storage.EmailChangeKeep, []*apiws.AuditEntry{audit(c.AccountID, c, "account.email_change_wrong_code", "")},
				apiws.FieldError(apiws.EINVALID, field, "wrong code; %d tries left", maxEmailCodeAttempts-ch.CodeAttempts)
		}
		return storage.EmailChangeApply, []*apiws.AuditEntry{audit(c.AccountID, c, "account.rectify", fmt.Sprintf("email: %q -> %q", before.Email, ch.NewEmail))}, nil
	})
	switch apiws.ErrorCodeOf(err) {
	case apiws.ENOTFOUND:
		if acc == nil {
			return nil, apiws.FieldError(apiws.ENOTFOUND, field, "no email change is waiting for a code")
		}
	case apiws.ETAKEN:
		if acc == nil {
			return nil, apiws.FieldError(apiws.ETAKEN, field, "another account has taken this email meanwhile; change it again")
		}
	}
	return acc, err
}

// newCode returns a random six-digit code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// emailCodePurpose names the HMAC key of email change codes, derived from
// the secret key (apiws.DeriveKey).
const emailCodePurpose = "apiws email change code v1: HMAC-SHA256"

// codeHash is what is stored of a change's code: an HMAC bound to the
// account and the new email, so a code works for nothing else.
func (s *Service) codeHash(ch *apiws.EmailChange, code string) []byte {
	m := hmac.New(sha256.New, s.codeKey)
	fmt.Fprintf(m, "email-change\x00%s\x00%s\x00%s", ch.AccountID, strings.ToLower(ch.NewEmail), strings.TrimSpace(code))
	return m.Sum(nil)
}
