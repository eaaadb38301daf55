// Package messaging is the heart of apiws: sending with idempotency, the
// encrypted outbox, a dispatcher per number, the monotonic status machine,
// receipts and inbound messages, and gap-free status streams.
package messaging

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// Numbers is what messaging needs to know of numbers.
type Numbers interface {
	// Number returns one of the account's numbers, or ENOTFOUND (also for
	// another account's number).
	Number(ctx context.Context, accountID, id string) (*apiws.Number, error)
	// NumberByID returns any number, for background work.
	NumberByID(ctx context.Context, id string) (*apiws.Number, error)
}

// Usage is what messaging reports to the usage service; nil means no
// quotas and no rollups.
type Usage interface {
	// CheckQuota refuses a send over the account's monthly quota with a
	// QUOTA_EXCEEDED user error.
	CheckQuota(ctx context.Context, accountID string) error
	// RecordMessage counts a message reaching status (QUEUED counts an
	// accepted message).
	RecordMessage(ctx context.Context, accountID string, status apiws.MessageStatus, at time.Time) error
}

// Config tunes the service.
type Config struct {
	// SecretKey encrypts outbox content (32 bytes).
	SecretKey []byte
	// SendsPerSecond paces each number's dispatcher.
	SendsPerSecond float64
	// MaxAttempts bounds retries of retryable send errors.
	MaxAttempts int
	// RetryBase is the first retry's backoff; it doubles each time, with
	// jitter, up to RetryMax.
	RetryBase, RetryMax time.Duration
	// AllowPrivateMediaURLs lets tests fetch media from loopback servers.
	AllowPrivateMediaURLs bool
}

// Service implements sending, dispatching and status streams.
type Service struct {
	cfg        Config
	db         *storage.DB
	bus        events.Bus
	numbers    Numbers
	connectors func(*apiws.Number) whatsapp.Connector
	usage      Usage
	log        *slog.Logger
	seal       *sealer
	fetcher    *mediaFetcher
	now        func() time.Time

	ctx         context.Context // background work; ends at Close
	stop        context.CancelFunc
	wg          sync.WaitGroup
	mu          sync.Mutex
	dispatchers map[string]*dispatcher
}

// New returns the service. connectors picks the Connector of a number
// (sandbox or whatsmeow); usage may be nil.
func New(cfg Config, db *storage.DB, bus events.Bus, numbers Numbers, connectors func(*apiws.Number) whatsapp.Connector, usage Usage, log *slog.Logger) (*Service, error) {
	seal, err := newSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	if cfg.SendsPerSecond <= 0 {
		cfg.SendsPerSecond = 5
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Service{
		cfg: cfg, db: db, bus: bus, numbers: numbers, connectors: connectors, usage: usage, log: log,
		seal: seal, fetcher: newMediaFetcher(cfg.AllowPrivateMediaURLs), now: func() time.Time { return time.Now().UTC() },
		ctx: ctx, stop: stop, dispatchers: map[string]*dispatcher{},
	}, nil
}

// Start resumes dispatching every number with queued messages: queued
// messages survive a restart.
func (s *Service) Start(ctx context.Context) error {
	ids, err := s.db.OutboxNumbers(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		s.Nudge(id)
	}
	return nil
}

// Close stops the dispatchers and waits for them; messages still queued
// stay in the outbox for the next start.
func (s *Service) Close() {
	s.stop()
	s.wg.Wait()
}

// publish announces committed events on the bus. A bus failure is logged,
// not returned: the log in the database is the source of truth and
// subscribers resync from it.
func (s *Service) publish(evs ...*apiws.MessageEvent) {
	for _, ev := range evs {
		data, _ := json.Marshal(ev)
		err := s.bus.Publish(s.ctx, ev.AccountID, apiws.Event{
			Kind: apiws.EventMessageStatus, AccountID: ev.AccountID, NumberID: ev.NumberID, Cursor: ev.Seq, Data: data,
		})
		if err != nil {
			s.log.Warn("publish message event", "err", err, "account", ev.AccountID, "cursor", ev.Seq)
		}
		if s.usage != nil {
			if err := s.usage.RecordMessage(context.WithoutCancel(s.ctx), ev.AccountID, ev.Status, ev.At); err != nil {
				s.log.Warn("record message in usage", "err", err, "account", ev.AccountID)
			}
		}
	}
}
