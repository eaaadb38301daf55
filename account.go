package apiws

import (
	"context"
	"time"
)

// AccountStatus is the lifecycle state of an account.
type AccountStatus string

// Account statuses.
const (
	AccountActive          AccountStatus = "ACTIVE"
	AccountPendingDeletion AccountStatus = "PENDING_DELETION"
)

// MinimumAge is the youngest age, in years, at which a person may sign up.
const MinimumAge = 16

// Account is a business using apiws.
type Account struct {
	ID       string           `bun:"id,pk"`
	Name     string           `bun:"name,notnull"`
	Email    string           `bun:"email,notnull"`
	Phone    *string          `bun:"phone"`
	Business *BusinessDetails `bun:"business,type:text"`
	Status   AccountStatus    `bun:"status,notnull"`
	// PasswordHash is an argon2id hash in PHC string format.
	PasswordHash string    `bun:"password_hash,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	// AgeCheckedAt is when the birth date was checked against MinimumAge;
	// the birth date itself is never kept.
	AgeCheckedAt         time.Time  `bun:"age_checked_at,notnull"`
	DeletionScheduledAt  *time.Time `bun:"deletion_scheduled_at"`
	ProcessingRestricted bool       `bun:"processing_restricted,notnull"`
	AnalyticsObjected    bool       `bun:"analytics_objected,notnull"`
	LegalHold            bool       `bun:"legal_hold,notnull"`
}

// BusinessDetails describes the business behind an account. Every field is
// optional.
type BusinessDetails struct {
	Name    *string `json:"name,omitempty"`
	Website *string `json:"website,omitempty"`
	Country *string `json:"country,omitempty"`
	VatID   *string `json:"vatId,omitempty"`
	Address *string `json:"address,omitempty"`
}

// Empty reports whether no field of b is set.
func (b *BusinessDetails) Empty() bool {
	return b == nil || (b.Name == nil && b.Website == nil && b.Country == nil && b.VatID == nil && b.Address == nil)
}

// SignUp is the input of AccountService.SignUp.
type SignUp struct {
	Name                string
	Email               string
	Password            string
	BirthDate           time.Time
	AcceptPolicyVersion string
	Phone               *string
	Business            *BusinessDetails
	IP                  string
	UserAgent           string
}

// AccountUpdate holds the fields updateAccount changes; nil leaves a field as
// it is. A new Email is not set at once: it needs CurrentPassword, and takes
// effect when the code mailed to it is confirmed.
type AccountUpdate struct {
	Name            *string
	Email           *string
	Phone           *string
	Business        *BusinessDetails
	CurrentPassword *string
}

// EmailChange is an account's email change waiting for the code mailed to
// the new address. The code is stored only as an HMAC; it works until
// ExpiresAt and for a few wrong tries.
type EmailChange struct {
	AccountID    string    `bun:"account_id,pk"`
	NewEmail     string    `bun:"new_email,notnull"`
	CodeHash     []byte    `bun:"code_hash,notnull"`
	CodeAttempts int       `bun:"code_attempts,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull"`
	ExpiresAt    time.Time `bun:"expires_at,notnull"`
}

// PolicyVersion is one published version of the privacy policy.
type PolicyVersion struct {
	Version     string    `bun:"version,pk"`
	EffectiveAt time.Time `bun:"effective_at,notnull"`
	PublishedAt time.Time `bun:"published_at,notnull"`
	Summary     string    `bun:"summary,notnull"`
	Material    bool      `bun:"material,notnull"`
}

// Consent records that an account accepted a policy version.
type Consent struct {
	ID            int64     `bun:"id,pk,autoincrement"`
	AccountID     string    `bun:"account_id,notnull"`
	PolicyVersion string    `bun:"policy_version,notnull"`
	AcceptedAt    time.Time `bun:"accepted_at,notnull"`
	IP            *string   `bun:"ip"`
}

// AccountService manages accounts, dashboard sessions and policy consent.
type AccountService interface {
	// SignUp creates an account and a dashboard session and returns the
	// session token. Input problems are *Error with a user code and a field;
	// a refused sign-up writes nothing.
	SignUp(ctx context.Context, in SignUp) (*Account, string, error)
	// LogIn checks the credentials and returns a new session token. An
	// unknown email and a wrong password both give EWRONGCREDENTIALS.
	LogIn(ctx context.Context, email, password, ip, userAgent string) (*Account, string, error)
	// LogOut revokes the calling session.
	LogOut(ctx context.Context) error
	// Account returns the account with the id, or ENOTFOUND (also when the
	// caller may not read it, see RequireRead).
	Account(ctx context.Context, id string) (*Account, error)
	// Viewer returns the account the caller acts for (a session's or an
	// API key's, whatever its scopes), or nil for any other caller.
	Viewer(ctx context.Context) (*Account, error)
	// UpdateAccount changes the caller's own account (a dashboard
	// session's). A new email is only mailed a code (see
	// ConfirmEmailChange); until then the account keeps its email, and mail
	// goes there.
	UpdateAccount(ctx context.Context, upd AccountUpdate) (*Account, error)
	// ChangePassword sets a new password for the caller's account (a
	// dashboard session's, which must give the current password). Every
	// session of the account ends, the caller's too; the new session's
	// token is returned.
	ChangePassword(ctx context.Context, current, next string) (*Account, string, error)
	// ConfirmEmailChange sets the email waiting for confirmation when code
	// is the one mailed to it. A wrong code is INVALID; an expired one, or
	// one that failed too often, EXPIRED; no change waiting, NOT_FOUND.
	ConfirmEmailChange(ctx context.Context, code string) (*Account, error)
	// AcceptPolicy records the caller's consent to a policy version.
	AcceptPolicy(ctx context.Context, version, ip string) (*Account, error)
	// CurrentPolicy returns the version in force now.
	CurrentPolicy(ctx context.Context) (*PolicyVersion, error)
	// PolicyVersions returns every version, newest first.
	PolicyVersions(ctx context.Context) ([]*PolicyVersion, error)
	// Consents returns the account's consents, oldest first (RequireRead).
	Consents(ctx context.Context, accountID string) ([]*Consent, error)
	// Accounts lists accounts for operators, newest first.
	Accounts(ctx context.Context, page Page, filter AccountFilter) (List[*Account], error)
}

// AccountFilter narrows Accounts; zero fields do not.
type AccountFilter struct {
	// Search matches a part of the name or email (any case), or the whole
	// id.
	Search string
	// LegalHold keeps the accounts with (true) or without (false) a legal
	// hold.
	LegalHold *bool
}

// NilIfEmpty returns nil for "" and &s otherwise: an optional text field
// that is unset.
func NilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
