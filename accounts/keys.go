package accounts

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/apiws/apiws"
)

// Authenticate implements apiws.KeyService. A token that is malformed or
// whose checksum fails is refused before any database query.
func (s *Service) Authenticate(ctx context.Context, token string) (*apiws.Caller, error) {
	unauth := apiws.Errorf(apiws.EUNAUTHENTICATED, "invalid, revoked or expired credentials")
	now := s.now()
	switch tokenKind(token) {
	case sessionPrefix:
		hash := hashToken(token)
		if c, ok := s.keys.get(string(hash), now); ok {
			return c, nil
		}
		sess, err := s.db.SessionByHash(ctx, hash)
		if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
			return nil, unauth
		} else if err != nil {
			return nil, err
		}
		if sess.RevokedAt != nil || !now.Before(sess.ExpiresAt) {
			return nil, unauth
		}
		c := &apiws.Caller{Kind: apiws.CredentialSession, AccountID: sess.AccountID, SessionID: sess.ID}
		s.keys.put(string(hash), &sess.ExpiresAt, c, now)
		return c, nil
	case apiKeyPrefix:
		hash := hashToken(token)
		if c, ok := s.keys.get(string(hash), now); ok {
			s.touch(c.APIKeyID, now)
			return c, nil
		}
		k, err := s.db.APIKeyByHash(ctx, hash)
		if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
			return nil, unauth
		} else if err != nil {
			return nil, err
		}
		if k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
			return nil, unauth
		}
		s.touch(k.ID, now)
		c := &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: k.AccountID, APIKeyID: k.ID, Scopes: k.Scopes}
		s.keys.put(string(hash), k.ExpiresAt, c, now)
		return c, nil
	case operatorPrefix:
		k, err := s.db.OperatorKeyByHash(ctx, hashToken(token))
		if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
			return nil, unauth
		} else if err != nil {
			return nil, err
		}
		if !k.Usable(now) {
			return nil, unauth
		}
		return &apiws.Caller{Kind: apiws.CredentialOperator, OperatorKeyID: k.ID}, nil
	}
	return nil, unauth
}

// CreateAPIKey implements apiws.KeyService.
func (s *Service) CreateAPIKey(ctx context.Context, in apiws.NewAPIKey) (*apiws.APIKey, string, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return nil, "", err
	}
	acc, err := s.db.Account(ctx, c.AccountID)
	if err != nil {
		return nil, "", err
	}
	if acc.Status != apiws.AccountActive {
		return nil, "", apiws.Errorf(apiws.EFORBIDDEN, "the account is pending deletion; restore it to make keys")
	}
	now := s.now()
	var v validator
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		v.add(apiws.EINVALID, path("name"), "must be 1 to 100 characters")
	}
	scopes := dedupe(in.Scopes)
	if len(scopes) == 0 {
		v.add(apiws.EINVALID, path("scopes"), "give at least one scope")
	}
	if in.ExpiresAt != nil && !in.ExpiresAt.After(now) {
		v.add(apiws.EINVALID, path("expiresAt"), "must be in the future")
	}
	if err := v.errs.Err(); err != nil {
		return nil, "", err
	}
	secret := newToken(apiKeyPrefix)
	k := &apiws.APIKey{
		ID: apiws.NewID(apiws.PrefixAPIKey), AccountID: c.AccountID, Name: name,
		Prefix: displayPrefix(secret, apiKeyPrefix), SecretHash: hashToken(secret),
		Scopes: scopes, CreatedAt: now, ExpiresAt: in.ExpiresAt,
	}
	if k.ExpiresAt != nil {
		t := k.ExpiresAt.UTC()
		k.ExpiresAt = &t
	}
	if err := s.db.CreateAPIKey(ctx, k, audit(c.AccountID, c, "api_key.create", k.ID)); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

func dedupe(scopes []apiws.Scope) []apiws.Scope {
	var out []apiws.Scope
	seen := map[apiws.Scope]bool{}
	for _, sc := range scopes {
		if !seen[sc] {
			seen[sc] = true
			out = append(out, sc)
		}
	}
	return out
}

// RevokeAPIKey implements apiws.KeyService. A session may revoke any key of
// its account; an API key only itself.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) (*apiws.APIKey, error) {
	c, err := apiws.RequireAccount(ctx, "")
	if err != nil {
		return nil, err
	}
	if c.Kind == apiws.CredentialAPIKey && c.APIKeyID != id {
		return nil, apiws.Errorf(apiws.EFORBIDDEN, "an API key may revoke only itself")
	}
	k, err := s.db.RevokeAPIKey(ctx, c.AccountID, id, s.now(), audit(c.AccountID, c, "api_key.revoke", id))
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such API key")
	} else if err != nil {
		return nil, err
	}
	s.CredentialsRevoked(ctx, c.AccountID, id)
	return k, nil
}

// APIKeys implements apiws.KeyService.
func (s *Service) APIKeys(ctx context.Context, accountID string) ([]*apiws.APIKey, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	ks, err := s.db.APIKeys(ctx, accountID)
	for i, k := range ks {
		ks[i] = s.WithPendingUse(k)
	}
	return ks, err
}

// APIKey implements apiws.KeyService.
func (s *Service) APIKey(ctx context.Context, id string) (*apiws.APIKey, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	k, err := s.db.APIKey(ctx, c.AccountID, id)
	if err != nil {
		return nil, err
	}
	return s.WithPendingUse(k), nil
}

// WithPendingUse implements apiws.KeyService.
func (s *Service) WithPendingUse(k *apiws.APIKey) *apiws.APIKey {
	if at, ok := s.pendingUse(k.ID); ok && (k.LastUsedAt == nil || at.After(*k.LastUsedAt)) {
		c := *k
		c.LastUsedAt = &at
		return &c
	}
	return k
}
