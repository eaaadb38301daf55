package privacy

import (
	"context"
	"log/slog"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Numbers is what an erasure needs of the numbers service: every number of
// the account logged out of WhatsApp, its device keys deleted.
type Numbers interface {
	LogOutAll(ctx context.Context, accountID string) error
}

// Options configure a Service.
type Options struct {
	// Limiter bounds submissions and code attempts per account.
	Limiter apiws.Limiter
	// SecretKey is the deployment's secret: the HMAC under which
	// verification codes are stored, so a copy of the database does not
	// give the codes away, is keyed by a key derived from it.
	SecretKey []byte
	// Numbers logs out an erased account's numbers; nil leaves them to the
	// final purge.
	Numbers Numbers
	// MailQueued is called after mail was queued (to wake the sender).
	MailQueued func()
	// CredentialsRevoked is told when every API key of an account was
	// revoked (an erasure), for the authentication caches; nil when there
	// are none.
	CredentialsRevoked func(ctx context.Context, accountID, id string)
	Log                *slog.Logger
}

// Service implements apiws.PrivacyService.
type Service struct {
	db      *storage.DB
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	codeKey []byte // keys the HMAC of verification codes
}

var _ apiws.PrivacyService = (*Service)(nil)

// New returns the service over db.
func New(db *storage.DB, opts Options) *Service {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, opts: opts, log: log, now: func() time.Time { return time.Now().UTC() },
		codeKey: apiws.DeriveKey(opts.SecretKey, codePurpose)}
}

// mailQueued wakes the mail sender, if there is one.
func (s *Service) mailQueued() {
	if s.opts.MailQueued != nil {
		s.opts.MailQueued()
	}
}

// limit counts one event of what for the account and refuses it when over
// l.
func (s *Service) limit(ctx context.Context, what, accountID string, l apiws.Limit) error {
	if s.opts.Limiter == nil {
		return nil
	}
	return apiws.CheckLimit(ctx, s.opts.Limiter, "privacy:"+what+":"+accountID, l)
}

// audit makes an audit entry of an action by c (nil: apiws itself).
func audit(accountID string, c *apiws.Caller, action, details string, at time.Time) *apiws.AuditEntry {
	return apiws.NewAuditEntry(accountID, c, action, details, at)
}

func ptr[T any](v T) *T { return &v }
