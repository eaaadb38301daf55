package apiws

import (
	"context"
	"time"
)

// Scope is a permission an API key can carry.
type Scope string

// API key scopes.
const (
	ScopeRead           Scope = "READ"
	ScopeSend           Scope = "SEND"
	ScopeManageNumbers  Scope = "MANAGE_NUMBERS"
	ScopeManageWebhooks Scope = "MANAGE_WEBHOOKS"
	// ScopeManageGroups lets a key create, change, join and leave groups.
	ScopeManageGroups Scope = "MANAGE_GROUPS"
)

// CredentialKind says what kind of token authenticated a request.
type CredentialKind int

// Credential kinds.
const (
	CredentialNone CredentialKind = iota
	CredentialSession
	CredentialAPIKey
	CredentialOperator
)

// Caller is who makes a request: resolved once by the server from the
// bearer token and carried in the context.
type Caller struct {
	Kind      CredentialKind
	AccountID string
	// SessionID is set for dashboard sessions, APIKeyID for API keys,
	// OperatorKeyID for operator keys.
	SessionID     string
	APIKeyID      string
	OperatorKeyID string
	Scopes        []Scope
	IP            string
	UserAgent     string
}

// HasScope reports whether the caller may act with scope s. Dashboard
// sessions may do everything their account may.
func (c *Caller) HasScope(s Scope) bool {
	if c == nil {
		return false
	}
	if c.Kind == CredentialSession {
		return true
	}
	for _, have := range c.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller in ctx; a caller with CredentialNone when
// there is none.
func CallerFrom(ctx context.Context) *Caller {
	if c, ok := ctx.Value(callerKey{}).(*Caller); ok && c != nil {
		return c
	}
	return &Caller{Kind: CredentialNone}
}

// RequireAccount returns the caller if it acts for an account (a dashboard
// session or an API key holding scope; scope "" needs no scope), and an
// EUNAUTHENTICATED or EFORBIDDEN error otherwise.
func RequireAccount(ctx context.Context, scope Scope) (*Caller, error) {
	c := CallerFrom(ctx)
	switch c.Kind {
	case CredentialSession, CredentialAPIKey:
	case CredentialOperator:
		return nil, Errorf(EFORBIDDEN, "operator keys do not act for an account")
	default:
		return nil, Errorf(EUNAUTHENTICATED, "authentication required")
	}
	if scope != "" && !c.HasScope(scope) {
		return nil, Errorf(EFORBIDDEN, "this API key lacks the %s scope", scope)
	}
	return c, nil
}

// RequireRead checks that the caller may read the objects of the account
// with id accountID: the account itself (a session, or an API key with
// ScopeRead) or an operator. Another account's objects are ENOTFOUND,
// exactly like missing ones.
func RequireRead(ctx context.Context, accountID string) error {
	if CallerFrom(ctx).Kind == CredentialOperator {
		return nil
	}
	c, err := RequireAccount(ctx, ScopeRead)
	if err != nil {
		return err
	}
	if c.AccountID != accountID {
		return Errorf(ENOTFOUND, "not found")
	}
	return nil
}

// RequireSession returns the caller if it is a dashboard session.
func RequireSession(ctx context.Context) (*Caller, error) {
	c := CallerFrom(ctx)
	switch c.Kind {
	case CredentialSession:
		return c, nil
	case CredentialNone:
		return nil, Errorf(EUNAUTHENTICATED, "authentication required")
	}
	return nil, Errorf(EFORBIDDEN, "only a dashboard session may do this")
}

// RequireOperator returns the caller if it holds an operator key.
func RequireOperator(ctx context.Context) (*Caller, error) {
	c := CallerFrom(ctx)
	switch c.Kind {
	case CredentialOperator:
		return c, nil
	case CredentialNone:
		return nil, Errorf(EUNAUTHENTICATED, "authentication required")
	}
	return nil, Errorf(EFORBIDDEN, "operator only")
}

// APIKey is an account's key for programmatic access. Its secret is shown
// once at creation and stored only as a SHA-256 hash.
type APIKey struct {
	ID         string     `bun:"id,pk"`
	AccountID  string     `bun:"account_id,notnull"`
	Name       string     `bun:"name,notnull"`
	Prefix     string     `bun:"prefix,notnull"`
	SecretHash []byte     `bun:"secret_hash,notnull"`
	Scopes     []Scope    `bun:"scopes,type:text"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	ExpiresAt  *time.Time `bun:"expires_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

// NewAPIKey is the input of KeyService.CreateAPIKey.
type NewAPIKey struct {
	Name      string
	Scopes    []Scope
	ExpiresAt *time.Time
}

// KeyService manages API keys and resolves bearer tokens.
type KeyService interface {
	// Authenticate resolves a bearer token (session, API key or operator
	// key) to a caller. A malformed, unknown, revoked or expired token is
	// EUNAUTHENTICATED.
	Authenticate(ctx context.Context, token string) (*Caller, error)
	// CreateAPIKey makes a key for the calling dashboard session's account
	// and returns it with its secret, which is never available again.
	CreateAPIKey(ctx context.Context, in NewAPIKey) (*APIKey, string, error)
	// RevokeAPIKey revokes one of the caller's keys.
	RevokeAPIKey(ctx context.Context, id string) (*APIKey, error)
	// APIKeys lists an account's keys, newest first (RequireRead).
	APIKeys(ctx context.Context, accountID string) ([]*APIKey, error)
	// APIKey returns one key of the caller's account (ScopeRead), or
	// ENOTFOUND.
	APIKey(ctx context.Context, id string) (*APIKey, error)
	// WithPendingUse returns k as it is now: a copy carrying its last use
	// when that is newer than the stored one (use times are written in
	// batches), else k itself.
	WithPendingUse(k *APIKey) *APIKey
}

// Page asks for at most First items after the cursor After ("" from the
// start).
type Page struct {
	First int
	After string
	// NoTotal says the caller does not read the list's Total: a service
	// may leave it 0 and spare the count.
	NoTotal bool
}

// MaxPageSize is the most items one page holds.
const MaxPageSize = 100

// Session is a dashboard login. Its token is stored only as a SHA-256 hash.
type Session struct {
	ID        string     `bun:"id,pk"`
	AccountID string     `bun:"account_id,notnull"`
	TokenHash []byte     `bun:"token_hash,notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	ExpiresAt time.Time  `bun:"expires_at,notnull"`
	RevokedAt *time.Time `bun:"revoked_at"`
	IP        *string    `bun:"ip"`
	UserAgent *string    `bun:"user_agent"`
}

// OperatorKey is a key of the people who run apiws, made by the CLI.
type OperatorKey struct {
	ID         string    `bun:"id,pk"`
	Name       string    `bun:"name,notnull"`
	Prefix     string    `bun:"prefix,notnull"`
	SecretHash []byte    `bun:"secret_hash,notnull"`
	CreatedAt  time.Time `bun:"created_at,notnull"`
	// ExpiresAt is when the key stops working; nil: never.
	ExpiresAt *time.Time `bun:"expires_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
}

// Usable reports whether the key may still be used at now: neither revoked
// nor expired.
func (k *OperatorKey) Usable(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// AuditEntry is one line of the append-only audit log of security- and
// privacy-relevant actions.
type AuditEntry struct {
	ID        int64   `bun:"id,pk,autoincrement"`
	AccountID *string `bun:"account_id"`
	// Actor says who acted: "account", "api_key:<id>", "operator:<id>", "system".
	Actor   string    `bun:"actor,notnull"`
	Action  string    `bun:"action,notnull"`
	Details *string   `bun:"details"`
	IP      *string   `bun:"ip"`
	At      time.Time `bun:"at,notnull"`
}

// NewAuditEntry returns the audit entry of an action on an account ("" for
// none) by c (nil: apiws itself) at a time, with optional details.
func NewAuditEntry(accountID string, c *Caller, action, details string, at time.Time) *AuditEntry {
	e := &AuditEntry{Actor: c.Actor(), Action: action, At: at.UTC()}
	if accountID != "" {
		e.AccountID = &accountID
	}
	if details != "" {
		e.Details = &details
	}
	if c != nil && c.IP != "" {
		e.IP = &c.IP
	}
	return e
}

// Actor names c in the audit log: "session:<id>", "api_key:<id>",
// "operator:<id>", "anonymous", or "system" for nil.
func (c *Caller) Actor() string {
	if c == nil {
		return "system"
	}
	switch c.Kind {
	case CredentialSession:
		return "session:" + c.SessionID
	case CredentialAPIKey:
		return "api_key:" + c.APIKeyID
	case CredentialOperator:
		return "operator:" + c.OperatorKeyID
	}
	return "anonymous"
}
