package apiws

import (
	"context"
	"time"
)

// The periods of the privacy policy, in one place: the privacy service, the
// retention sweeper, the exports and the README all follow these.
const (
	// ErasureGrace is how long an account stays PENDING_DELETION, and can
	// be restored, before it is purged.
	ErasureGrace = 30 * 24 * time.Hour
	// UsageRetentionMonths is how long API calls, message metadata and usage
	// rollups are kept.
	UsageRetentionMonths = 12
	// FinancialRetentionYears is how long invoices and payments are kept,
	// pseudonymised once their account is purged.
	FinancialRetentionYears = 7
	// ExportLifetime is how long a privacy export can be downloaded.
	ExportLifetime = 7 * 24 * time.Hour
	// MaterialChangeNotice is how far ahead a material policy change must be
	// published.
	MaterialChangeNotice = 30 * 24 * time.Hour
)

// PrivacyRequestType is a right a person exercises with a privacy request.
type PrivacyRequestType string

// Privacy request types.
const (
	RequestAccess        PrivacyRequestType = "ACCESS"
	RequestRectification PrivacyRequestType = "RECTIFICATION"
	RequestErasure       PrivacyRequestType = "ERASURE"
	RequestRestriction   PrivacyRequestType = "RESTRICTION"
	RequestPortability   PrivacyRequestType = "PORTABILITY"
	RequestObjection     PrivacyRequestType = "OBJECTION"
)

// Valid reports whether t is one of the request types.
func (t PrivacyRequestType) Valid() bool {
	switch t {
	case RequestAccess, RequestRectification, RequestErasure, RequestRestriction, RequestPortability, RequestObjection:
		return true
	}
	return false
}

// PrivacyRequestStatus is where a privacy request stands: PENDING_VERIFICATION
// until its code is entered, then VERIFIED, PROCESSING and COMPLETED; or
// REJECTED (not verified) or CANCELLED (by the account).
type PrivacyRequestStatus string

// Privacy request statuses.
const (
	RequestPendingVerification PrivacyRequestStatus = "PENDING_VERIFICATION"
	RequestVerified            PrivacyRequestStatus = "VERIFIED"
	RequestProcessing          PrivacyRequestStatus = "PROCESSING"
	RequestCompleted           PrivacyRequestStatus = "COMPLETED"
	RequestRejected            PrivacyRequestStatus = "REJECTED"
	RequestCancelled           PrivacyRequestStatus = "CANCELLED"
)

// PrivacyRequest is a request made through the Privacy Request Form.
type PrivacyRequest struct {
	ID          string               `bun:"id,pk"`
	AccountID   string               `bun:"account_id,notnull"`
	Type        PrivacyRequestType   `bun:"type,notnull"`
	Status      PrivacyRequestStatus `bun:"status,notnull"`
	Details     *string              `bun:"details"`
	Withdraw    bool                 `bun:"withdraw,notnull"`
	SubmittedAt time.Time            `bun:"submitted_at,notnull"`
	VerifiedAt  *time.Time           `bun:"verified_at"`
	CompletedAt *time.Time           `bun:"completed_at"`
	DueAt       time.Time            `bun:"due_at,notnull"`
	Resolution  *string              `bun:"resolution"`
	// CodeHash is the HMAC of the verification code; nil once the code is
	// used up, expired or dead.
	CodeHash      []byte     `bun:"code_hash"`
	CodeExpiresAt *time.Time `bun:"code_expires_at"`
	CodeAttempts  int        `bun:"code_attempts,notnull"`
	// DownloadExpiresAt is set on ACCESS and PORTABILITY once the export
	// is made.
	DownloadExpiresAt *time.Time `bun:"download_expires_at"`
}

// DownloadURL is where the export of an ACCESS or PORTABILITY request is
// downloaded, relative to apiws's address; nil without an export.
func (r *PrivacyRequest) DownloadURL() *string {
	if r.DownloadExpiresAt == nil {
		return nil
	}
	u := "/exports/" + r.ID
	return &u
}

// NewPrivacyRequest is the input of PrivacyService.SubmitRequest.
type NewPrivacyRequest struct {
	Type     PrivacyRequestType
	Details  *string
	Withdraw bool
}

// Notice is a message shown on an account's dashboard, such as a policy
// change.
type Notice struct {
	ID            string     `bun:"id,pk"`
	AccountID     string     `bun:"account_id,notnull"`
	Title         string     `bun:"title,notnull"`
	Body          string     `bun:"body,notnull"`
	PolicyVersion *string    `bun:"policy_version"`
	CreatedAt     time.Time  `bun:"created_at,notnull"`
	ReadAt        *time.Time `bun:"read_at"`
}

// PrivacyService carries out the privacy rights, policy publishing and
// legal holds. Requests act for the caller's dashboard session (an API key
// gets EFORBIDDEN); operator methods need an operator key. Another
// account's request or notice is reported exactly like a missing one.
type PrivacyService interface {
	// SubmitRequest records a request in PENDING_VERIFICATION and mails a
	// one-time code to the account's email.
	SubmitRequest(ctx context.Context, in NewPrivacyRequest) (*PrivacyRequest, error)
	// VerifyRequest checks the code (EINVALID or EEXPIRED on ["code"]) and
	// carries the request out.
	VerifyRequest(ctx context.Context, id, code string) (*PrivacyRequest, error)
	// CancelRequest cancels a request not yet carried out.
	CancelRequest(ctx context.Context, id string) (*PrivacyRequest, error)
	// Request returns one of the caller's requests (ScopeRead), or
	// ENOTFOUND.
	Request(ctx context.Context, id string) (*PrivacyRequest, error)
	// Requests lists the account's requests, newest first (RequireRead).
	Requests(ctx context.Context, accountID string) ([]*PrivacyRequest, error)
	// Queue lists every account's requests in the statuses (any when
	// empty), the earliest due first. Operators only.
	Queue(ctx context.Context, statuses []PrivacyRequestStatus) ([]*PrivacyRequest, error)
	// RestoreAccount undoes a pending erasure within ErasureGrace.
	RestoreAccount(ctx context.Context) (*Account, error)
	// SetLegalHold sets or lifts an account's legal hold. Operators only.
	SetLegalHold(ctx context.Context, accountID string, hold bool, reason string) (*Account, error)
	// PublishPolicy publishes a policy version, with a notice and a mail for
	// every account. Operators only.
	PublishPolicy(ctx context.Context, p PolicyVersion) (*PolicyVersion, error)
	// Notices lists the account's notices, newest first (RequireRead).
	Notices(ctx context.Context, accountID string, unreadOnly bool) ([]*Notice, error)
	// Notice returns one of the caller's notices (ScopeRead), or ENOTFOUND.
	Notice(ctx context.Context, id string) (*Notice, error)
	// DismissNotice marks one of the caller's notices read; false when it
	// has no such notice.
	DismissNotice(ctx context.Context, id string) (bool, error)
	// Export returns the content of an export made for the caller, or
	// ENOTFOUND (also when it is another account's or has expired).
	Export(ctx context.Context, requestID string) ([]byte, error)
}
