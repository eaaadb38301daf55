// Package accounts is the domain service for accounts, dashboard sessions,
// API keys, operator keys and policy consent.
package accounts

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
)

// SessionTTL is how long a dashboard session lasts.
const SessionTTL = 30 * 24 * time.Hour

// Login limits: per email and client network against password guessing on
// one account, per IP against spraying many. No limit is keyed by the email
// alone: a stranger's guesses would lock its owner out.
var (
	loginPerEmailNet = apiws.Limit{Rate: 10.0 / 60, Burst: 10}
	loginPerIP       = apiws.Limit{Rate: 1, Burst: 30}
	// Sign-ups hash a password each (argon2id, 19 MiB): one IP may not
	// make them fast.
	signUpPerIP = apiws.Limit{Rate: 0.5, Burst: 20}
	// Password changes and email change codes, per account.
	passwordChangePerAccount = apiws.Limit{Rate: 10.0 / 60, Burst: 10}
	emailCodePerAccount      = apiws.Limit{Rate: 10.0 / 60, Burst: 10}
)

// Options configure the service.
type Options struct {
	// Limiter bounds logins, sign-ups and code attempts.
	Limiter apiws.Limiter
	// SecretKey is the deployment's secret: the HMAC under which email
	// change codes are stored is keyed by a key derived from it.
	SecretKey []byte
	// MailQueued is called after mail was queued (to wake the sender).
	MailQueued func()
	// Bus carries API key revocations to the other instances, which cache
	// authenticated keys for up to a second; nil for a single process.
	Bus events.Bus
	Log *slog.Logger
	// Hashes is how many password hashes (argon2id, 19 MiB each) may run at
	// once; default one per CPU.
	Hashes int
	// HashWait is how long a password check may wait for its turn before it
	// is refused with RATE_LIMITED; default 5s.
	HashWait time.Duration
}

// Service implements apiws.AccountService and apiws.KeyService.
type Service struct {
	db      *storage.DB
	limiter apiws.Limiter
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	hashes  *hashGate
	codeKey []byte // keys the HMAC of email change codes

	// lastUsed holds API key use times not yet written: a request never
	// waits for that write; Flush writes them in one batch.
	mu       sync.Mutex
	lastUsed map[string]time.Time

	// keys are the API keys authenticated in the last second.
	keys *keyCache
}

var (
	_ apiws.AccountService = (*Service)(nil)
	_ apiws.KeyService     = (*Service)(nil)
)

// New returns the service over db.
func New(db *storage.DB, opts Options) *Service {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Hashes <= 0 {
		opts.Hashes = runtime.GOMAXPROCS(0)
	}
	if opts.HashWait <= 0 {
		opts.HashWait = 5 * time.Second
	}
	return &Service{
		db: db, limiter: opts.Limiter, opts: opts, log: opts.Log, now: func() time.Time { return time.Now().UTC() },
		hashes: newHashGate(opts.Hashes, opts.HashWait), lastUsed: map[string]time.Time{}, keys: newKeyCache(),
		codeKey: apiws.DeriveKey(opts.SecretKey, emailCodePurpose),
	}
}

// mailQueued wakes the mail sender, if there is one.
func (s *Service) mailQueued() {
	if s.opts.MailQueued != nil {
		s.opts.MailQueued()
	}
}

// lastUsedFlush is how often API key use times are written.
const lastUsedFlush = 5 * time.Second

// Run writes API key use times every few seconds until ctx ends, then once
// more: stop it before the database. With a bus it follows the API key
// revocations of the other instances meanwhile.
func (s *Service) Run(ctx context.Context) error {
	if s.opts.Bus != nil {
		followCtx, stop := context.WithCancel(ctx)
		followed := make(chan struct{})
		go func() {
			defer close(followed)
			if err := s.followRevocations(followCtx); err != nil {
				s.log.Error("follow API key revocations", "err", err)
			}
		}()
		defer func() { stop(); <-followed }()
	}
	t := time.NewTicker(lastUsedFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(context.WithoutCancel(ctx)); err != nil {
				s.log.Error("flush api key use times", "err", err)
			}
			return nil
		case <-t.C:
			if err := s.Flush(ctx); err != nil {
				s.log.Warn("flush api key use times", "err", err)
			}
		}
	}
}

// Flush writes the pending API key use times.
func (s *Service) Flush(ctx context.Context) error {
	s.mu.Lock()
	pending := s.lastUsed
	s.lastUsed = map[string]time.Time{}
	s.mu.Unlock()
	if err := s.db.TouchAPIKeys(ctx, pending); err != nil {
		// Put them back so the next flush tries again; newer times win.
		s.mu.Lock()
		for id, at := range pending {
			if at.After(s.lastUsed[id]) {
				s.lastUsed[id] = at
			}
		}
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *Service) touch(keyID string, at time.Time) {
	s.mu.Lock()
	s.lastUsed[keyID] = at
	s.mu.Unlock()
}

// pendingUse returns the unwritten use time of a key, if any.
func (s *Service) pendingUse(keyID string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.lastUsed[keyID]
	return at, ok
}

// audit makes an audit entry of an action by c (nil: apiws itself), now.
func audit(accountID string, c *apiws.Caller, action string, details string) *apiws.AuditEntry {
	return apiws.NewAuditEntry(accountID, c, action, details, time.Now())
}
