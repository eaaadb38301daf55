package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/apiws/apiws"
)

// SignUp implements apiws.AccountService. Every input is checked before
// anything is written; a person under MinimumAge leaves no trace (not even
// the refused attempt), and only the time of the age check is kept.
func (s *Service) SignUp(ctx context.Context, in apiws.SignUp) (*apiws.Account, string, error) {
	if in.IP != "" {
		if err := s.allow(ctx, "signup:ip:"+apiws.ClientNetwork(in.IP), signUpPerIP); err != nil {
			return nil, "", err
		}
	}
	now := s.now()
	var v validator
	name := v.name(in.Name, path("name"))
	email := v.email(in.Email, path("email"))
	v.password(in.Password, path("password"))
	phone := v.phone(in.Phone, path("phone"))
	business := v.business(in.Business)
	v.birthDate(in.BirthDate, now, path("birthDate"))
	policy, err := s.CurrentPolicy(ctx)
	if err != nil {
		return nil, "", err
	}
	if in.AcceptPolicyVersion != policy.Version {
		v.add(apiws.EPOLICYNOTACCEPTED, path("acceptPolicyVersion"), "accept the privacy policy in force, version "+policy.Version)
	}
	if err := v.errs.Err(); err != nil {
		return nil, "", err
	}

	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return nil, "", err
	}
	acc := &apiws.Account{
		ID: apiws.NewID(apiws.PrefixAccount), Name: name, Email: email, Phone: phone, Business: business,
		Status: apiws.AccountActive, PasswordHash: hash, CreatedAt: now, AgeCheckedAt: now,
	}
	consent := &apiws.Consent{AccountID: acc.ID, PolicyVersion: policy.Version, AcceptedAt: now, IP: optional(in.IP)}
	token, sess := s.newSession(acc.ID, now, in.IP, in.UserAgent)
	c := &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID, IP: in.IP}
	if err := s.db.CreateAccount(ctx, acc, consent, sess, audit(acc.ID, c, "account.signup", "")); err != nil {
		return nil, "", err
	}
	return acc, token, nil
}

// oldEnough reports whether someone born on birth is MinimumAge on day now
// (UTC dates; a 29 February birthday comes of age on 1 March).
func oldEnough(birth, now time.Time) bool {
	birth = birth.UTC()
	adult := time.Date(birth.Year()+apiws.MinimumAge, birth.Month(), birth.Day(), 0, 0, 0, 0, time.UTC)
	return !adult.After(now)
}

func (s *Service) newSession(accountID string, now time.Time, ip, userAgent string) (string, *apiws.Session) {
	token := newToken(sessionPrefix)
	return token, &apiws.Session{
		ID: apiws.NewID(apiws.PrefixSession), AccountID: accountID, TokenHash: hashToken(token),
		CreatedAt: now, ExpiresAt: now.Add(SessionTTL), IP: optional(ip), UserAgent: optional(apiws.TruncateText(userAgent, apiws.MaxUserAgentBytes)),
	}
}

// LogIn implements apiws.AccountService. Attempts are limited per email
// and client network (a stranger guessing elsewhere does not lock the
// owner out) and per IP; every attempt hashes once, in its turn.
func (s *Service) LogIn(ctx context.Context, email, password, ip, userAgent string) (*apiws.Account, string, error) {
	email = strings.TrimSpace(email)
	if err := s.allow(ctx, "login:email:"+strings.ToLower(email)+":net:"+apiws.ClientNetwork(ip), loginPerEmailNet); err != nil {
		return nil, "", err
	}
	if ip != "" {
		if err := s.allow(ctx, "login:ip:"+apiws.ClientNetwork(ip), loginPerIP); err != nil {
			return nil, "", err
		}
	}
	wrong := apiws.FieldError(apiws.EWRONGCREDENTIALS, []string{"input"}, "wrong email or password")
	acc, err := s.db.AccountByEmail(ctx, email)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		if _, err := s.check(ctx, dummyHash, password); err != nil {
			return nil, "", err
		}
		return nil, "", wrong
	} else if err != nil {
		return nil, "", err
	}
	ok, err := s.check(ctx, acc.PasswordHash, password)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		c := &apiws.Caller{IP: ip}
		_ = s.db.Audit(ctx, audit(acc.ID, c, "account.login_failed", ""))
		return nil, "", wrong
	}
	token, sess := s.newSession(acc.ID, s.now(), ip, userAgent)
	c := &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID, IP: ip}
	if err := s.db.CreateSession(ctx, sess, audit(acc.ID, c, "account.login", "")); err != nil {
		return nil, "", err
	}
	return acc, token, nil
}

func (s *Service) allow(ctx context.Context, key string, l apiws.Limit) error {
	if s.limiter == nil {
		return nil
	}
	err := apiws.CheckLimit(ctx, s.limiter, key, l)
	if err != nil && apiws.ErrorCodeOf(err) != apiws.ERATELIMITED {
		// A limiter outage must not lock everyone out.
		s.log.Warn("rate limiter unavailable", "err", err)
		return nil
	}
	return err
}

// LogOut implements apiws.AccountService.
func (s *Service) LogOut(ctx context.Context) error {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return err
	}
	if err := s.db.RevokeSession(ctx, c.SessionID, s.now()); err != nil {
		return err
	}
	s.CredentialsRevoked(ctx, c.AccountID, c.SessionID)
	return s.db.Audit(ctx, audit(c.AccountID, c, "account.logout", ""))
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
