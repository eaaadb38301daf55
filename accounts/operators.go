package accounts

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/apiws/apiws"
)

// Operator keys are made, listed and revoked by the CLI of whoever runs
// apiws (it holds the database); the API only checks them (Authenticate).
// Their audit entries name no actor but "system".

// CreateOperatorKey makes an operator key named name that stops working at
// expiresAt (nil: never), and returns it with its secret, which is never
// shown again. The name is one line of 1 to 100 characters; expiresAt must
// be in the future.
func (s *Service) CreateOperatorKey(ctx context.Context, name string, expiresAt *time.Time) (*apiws.OperatorKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, unicode.IsControl) {
		return nil, "", apiws.FieldError(apiws.EINVALID, []string{"name"}, "an operator key's name must be one line of 1 to 100 characters")
	}
	now := s.now()
	if expiresAt != nil {
		if !expiresAt.After(now) {
			return nil, "", apiws.FieldError(apiws.EINVALID, []string{"expires"}, "an operator key must expire in the future")
		}
		t := expiresAt.UTC()
		expiresAt = &t
	}
	secret := newToken(operatorPrefix)
	k := &apiws.OperatorKey{ID: apiws.NewID(apiws.PrefixOperatorKey), Name: name, Prefix: displayPrefix(secret, operatorPrefix),
		SecretHash: hashToken(secret), CreatedAt: now, ExpiresAt: expiresAt}
	if err := s.db.CreateOperatorKey(ctx, k, audit("", nil, "operator_key.create", k.ID)); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// OperatorKeys lists every operator key, oldest first, revoked and expired
// ones included.
func (s *Service) OperatorKeys(ctx context.Context) ([]*apiws.OperatorKey, error) {
	return s.db.OperatorKeys(ctx)
}

// RevokeOperatorKey revokes an operator key at once: the next request made
// with it fails with UNAUTHENTICATED, and a websocket opened with it is
// closed at its next credential check. Revoking a revoked key changes
// nothing. An unknown id is ENOTFOUND.
func (s *Service) RevokeOperatorKey(ctx context.Context, id string) (*apiws.OperatorKey, error) {
	if !apiws.ValidID(id, apiws.PrefixOperatorKey) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no operator key %q", id)
	}
	k, err := s.db.RevokeOperatorKey(ctx, id, s.now(), audit("", nil, "operator_key.revoke", id))
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no operator key %q", id)
	}
	return k, err
}
