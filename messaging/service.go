// Package messaging is the heart of apiws: sending with idempotency, the
// encrypted outbox, a dispatcher per number, the monotonic status machine,
// receipts and inbound messages, and gap-free status streams.
package messaging

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

var _ apiws.MessageService = (*Service)(nil)

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
	// QuotaLeft returns how many more messages the account may send this
	// month and the QUOTA_EXCEEDED user error refusing one more.
	QuotaLeft(ctx context.Context, accountID string) (int, *apiws.Error, error)
	// RecordMessage counts a message reaching status (QUEUED counts an
	// accepted message).
	RecordMessage(ctx context.Context, accountID string, status apiws.MessageStatus, at time.Time) error
}

// Owner says which numbers this instance sends through: only a number's
// owner runs its dispatcher, and it checks its lease (the fencing token)
// in the database before every send.
type Owner interface {
	apiws.NumberOwner
	Fence(ctx context.Context, numberID string, token int64) (bool, error)
	Owned() []string
}

// journalShards is how many group-commit transactions (of different
// accounts) run at once on PostgreSQL.
const journalShards = 4

// outboxTopic is the bus topic on which instances nudge a number's owner.
const outboxTopic = "outbox"

// Config tunes the service.
type Config struct {
	// SecretKey encrypts outbox content (32 bytes).
	SecretKey []byte
	// SendsPerSecond paces each number's dispatcher.
	SendsPerSecond float64
	// SendsInFlight is how many messages of one number are being sent at
	// once, never two of one chat (APIWS_SENDS_IN_FLIGHT). Default 8.
	SendsInFlight int
	// MaxAttempts bounds retries of retryable send errors.
	MaxAttempts int
	// RetryBase is the first retry's backoff; it doubles each time, with
	// jitter, up to RetryMax.
	RetryBase, RetryMax time.Duration
	// AllowPrivateMediaURLs lets media URLs reach loopback and private
	// addresses, over plain http too (APIWS_ALLOW_PRIVATE_URLS).
	AllowPrivateMediaURLs bool
	// TransitTTL bounds how long a sent message's content is kept for the
	// recipient's retry receipts when no delivery receipt ends it sooner
	// (APIWS_TRANSIT_TTL). Default 24h.
	TransitTTL time.Duration
}

// Service implements sending, dispatching and status streams.
type Service struct {
	cfg        Config
	db         *storage.DB
	bus        events.Bus
	events     *eventlog.Log
	numbers    Numbers
	groups     Groups // nil: group messages are not recorded
	connectors func(*apiws.Number) whatsapp.Connector
	usage      Usage
	pace       Pace
	log        *slog.Logger
	seal       *sealer
	links      *apiws.MediaLinks // nil: no media links
	tracer     trace.Tracer
	relay      *apiws.Sealer // files passed between instances
	fetcher    *mediaFetcher
	now        func() time.Time

	owner Owner // nil: this instance sends through every number

	ctx         context.Context // background work; ends when Run returns
	stop        context.CancelFunc
	wg          sync.WaitGroup
	mu          sync.Mutex
	dispatchers map[string]*dispatcher
	lastSends   map[string]time.Time // a number's last send, when its dispatcher stopped
	downloads   chan struct{}        // the inbound files being downloaded (maxDownloads)
	accepted    map[string]bool      // sent, acceptance not yet recorded
	depth       atomic.Int64         // outbox size at the last scan
	journal     *journal             // group commit of sends, acceptances and receipts
	owners      sync.Map             // number id → account id, for receipts (a number never changes account)
}

// Deps are what the service works with.
type Deps struct {
	DB  *storage.DB
	Bus events.Bus
	// Events publishes what the service logs and follows the accounts'
	// logs for subscriptions.
	Events *eventlog.Log
	// Numbers reads the numbers of receipts and inbound messages.
	Numbers Numbers
	// Connectors picks the Connector of a number (sandbox or whatsmeow).
	Connectors func(*apiws.Number) whatsapp.Connector
	// Router carries the connectors' receipts and inbound messages to the
	// service; nil in tests that feed HandleConnectorEvent themselves.
	Router *whatsapp.Router
	// Owner says which numbers this instance sends through; nil: all.
	Owner Owner
	// Usage counts messages in the rollups; may be nil.
	Usage Usage
	// Pace tells each account's send rate (its plan's); nil:
	// Config.SendsPerSecond for every account.
	Pace Pace
	// Links checks the media links of inbound files (MediaFile); nil
	// refuses every link.
	Links *apiws.MediaLinks
	// Groups finds the groups of inbound group messages; nil records none.
	Groups Groups
	Log    *slog.Logger
	// Tracer makes a span of every send to WhatsApp; nil makes none.
	Tracer trace.TracerProvider
}

// Pace tells how many messages per second each number of an account may
// send.
type Pace interface {
	SendsPerSecond(ctx context.Context, accountID string) (float64, error)
}

// New returns the service and makes it the handler of the connectors'
// receipts and inbound messages. Sends are accepted from then on; Run
// dispatches them.
func New(cfg Config, d Deps) (*Service, error) {
	db := d.DB
	seal, err := newSealer(cfg.SecretKey)
	if err != nil {
		return nil, err
	}
	relay, err := apiws.NewSealer(cfg.SecretKey, relayPurpose)
	if err != nil {
		return nil, err
	}
	if cfg.SendsPerSecond <= 0 {
		cfg.SendsPerSecond = 5
	}
	if cfg.SendsInFlight <= 0 {
		cfg.SendsInFlight = 8
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
	if cfg.TransitTTL <= 0 {
		cfg.TransitTTL = 24 * time.Hour
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Service{
		cfg: cfg, db: db, bus: d.Bus, events: d.Events, numbers: d.Numbers, groups: d.Groups, connectors: d.Connectors, usage: d.Usage, pace: d.Pace, log: d.Log, owner: d.Owner,
		seal: seal, links: d.Links, relay: relay, fetcher: newMediaFetcher(cfg.AllowPrivateMediaURLs), now: func() time.Time { return time.Now().UTC() },
		ctx: ctx, stop: stop, dispatchers: map[string]*dispatcher{}, lastSends: map[string]time.Time{}, downloads: make(chan struct{}, maxDownloads), accepted: map[string]bool{},
	}
	// SQLite writes one transaction at a time anyway.
	shards := journalShards
	if db.Dialect == storage.SQLite {
		shards = 1
	}
	s.tracer = tracerOf(d.Tracer)
	s.journal = newJournal(ctx, db, shards, s.count, s.broadcast)
	if d.Router != nil {
		d.Router.HandleMessages(s.HandleConnectorEvent)
		d.Router.HandleRetained(s.Retained)
	}
	return s, nil
}

// Run dispatches until ctx ends: it resumes every number with queued
// messages (queued messages survive a restart) and, with ownership, follows
// the nudges of other instances and looks at the outbox of its numbers
// every scan interval, in case a nudge was lost. When ctx ends it stops the
// dispatchers, waits for the sends in flight, and commits and publishes
// what the journal holds before it returns; messages still queued stay in
// the outbox for the next start. Run is called once.
func (s *Service) Run(ctx context.Context) error {
	defer s.close()
	if err := s.start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func (s *Service) start(ctx context.Context) error {
	if err := s.nudgeQueued(ctx); err != nil {
		return err
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(unsendableScan)
		defer t.Stop()
		for {
			s.failUnsendable()
			select {
			case <-s.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	if s.owner == nil {
		return nil
	}
	// Followed before start returns: a request made once this instance
	// owns a number is not missed.
	signals, err := events.NewFollower(s.ctx, s.bus, chatTopic, apiws.EventNumberCommand)
	if err != nil {
		return err
	}
	mediaRequests, err := events.NewFollower(s.ctx, s.bus, mediaTopic, apiws.EventNumberCommand)
	if err != nil {
		signals.Close()
		return err
	}
	s.wg.Add(4)
	go func() {
		defer s.wg.Done()
		if err := signals.Serve(s.ctx, s.signalRequested); err != nil {
			s.log.Error("follow chat signals", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		if err := mediaRequests.Serve(s.ctx, s.mediaRequested); err != nil {
			s.log.Error("follow media requests", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		err := events.Follow(s.ctx, s.bus, outboxTopic, func(ev apiws.Event) {
			switch ev.Kind {
			case apiws.EventOutbox:
				s.Nudge(ev.NumberID)
			case apiws.EventResync:
				_ = s.nudgeQueued(s.ctx)
			}
		}, apiws.EventOutbox)
		if err != nil {
			s.log.Error("follow outbox nudges", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		scan := time.NewTicker(outboxScan)
		defer scan.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case <-scan.C:
				if err := s.nudgeQueued(s.ctx); err != nil && s.ctx.Err() == nil {
					s.log.Warn("scan outbox", "err", err)
				}
				if n, err := s.db.OutboxDepth(s.ctx); err == nil {
					s.depth.Store(int64(n))
				}
			}
		}
	}()
	return nil
}

// OutboxDepth is how many messages (of every instance) were waiting to be
// sent at the last outbox scan: read for metrics without a query.
func (s *Service) OutboxDepth() int64 { return s.depth.Load() }

// Collectors are the journal's metrics, for the server's registry. Its
// busy time growing by about a second a second (a committer's worth) means
// one account's writes wait on its committer.
func (s *Service) Collectors() []prometheus.Collector {
	j := s.journal
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_journal_commits_total", Help: "Transactions of the message journal (group commits of sends, acceptances and receipts).",
		}, func() float64 { return float64(j.commits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_journal_writes_total", Help: "Writes (sends, acceptances, receipts) the journal's transactions carried.",
		}, func() float64 { return float64(j.writes.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_journal_busy_seconds_total", Help: "Time the journal's committers spent committing, summed over them: growing by about 1 s/s, one account's writes wait on its committer.",
		}, func() float64 { return time.Duration(j.busy.Load()).Seconds() }),
	}
}

// outboxScan is how often an owner looks for queued messages it was not
// told of.
const outboxScan = 2 * time.Second

// Content waits in the outbox at most MaxQueueAge; then, or as soon as its
// number is removed, logged out or banned, the message fails and its
// content is deleted: content is not kept beyond transmission.
const (
	MaxQueueAge    = 24 * time.Hour
	unsendableScan = 5 * time.Second
)

// failUnsendable ends the queued messages that can no longer be sent, and
// deletes the transit content whose time is up.
func (s *Service) failUnsendable() {
	if _, err := s.db.DeleteExpiredTransit(s.ctx, s.now()); err != nil && s.ctx.Err() == nil {
		s.log.Warn("delete expired transit content", "err", err)
	}
	for {
		items, err := s.db.UnsendableOutbox(s.ctx, s.now().Add(-MaxQueueAge), 100)
		if err != nil {
			if s.ctx.Err() == nil {
				s.log.Warn("find unsendable messages", "err", err)
			}
			return
		}
		for _, item := range items {
			s.fail(item, &apiws.MessageError{Code: apiws.MsgErrNotConnected,
				Message: "the number was removed, logged out or banned, or stayed disconnected for 24 hours"})
		}
		if len(items) < 100 {
			return
		}
	}
}

// nudgeQueued nudges the dispatcher of every number with queued messages
// that this instance sends through.
func (s *Service) nudgeQueued(ctx context.Context) error {
	ids, err := s.db.OutboxNumbers(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if apiws.Owns(s.owner, id) {
			s.Nudge(id)
		}
	}
	return nil
}

// close stops the dispatchers and waits for them, then commits and
// publishes what the journal holds.
func (s *Service) close() {
	s.stop()
	s.wg.Wait()
	s.journal.close()
}

// publish counts committed events in the usage rollups and announces them
// on the bus.
func (s *Service) publish(evs ...*apiws.LogEvent) {
	s.count(evs)
	s.broadcast(evs)
}

// count adds committed events to the usage rollups (in memory until the
// next rollup write). A send is counted before it is acknowledged, so the
// next send's quota check sees it.
func (s *Service) count(evs []*apiws.LogEvent) {
	if s.usage == nil {
		return
	}
	for _, ev := range evs {
		if ev.Status == "" {
			continue // not a message's event
		}
		if err := s.usage.RecordMessage(context.WithoutCancel(s.ctx), ev.AccountID, ev.Status, ev.At); err != nil {
			s.log.Warn("record message in usage", "err", err, "account", ev.AccountID)
		}
	}
}

// broadcast announces committed events on the bus (see eventlog.Publish).
// Not cancelled at Close: what the journal commits while stopping is
// published too (the bus bounds the wait).
func (s *Service) broadcast(evs []*apiws.LogEvent) {
	s.events.Publish(context.WithoutCancel(s.ctx), evs...)
}

// accountOf returns the account of a number, remembered after the first
// lookup.
func (s *Service) accountOf(ctx context.Context, numberID string) (string, error) {
	if acc, ok := s.owners.Load(numberID); ok {
		return acc.(string), nil
	}
	n, err := s.numbers.NumberByID(ctx, numberID)
	if err != nil {
		return "", err
	}
	s.owners.Store(numberID, n.AccountID)
	return n.AccountID, nil
}

// Retained returns the content of the message the number sent under the
// WhatsApp id (SendResult.Content), while it is kept for retry receipts;
// nil when it is not (any more).
func (s *Service) Retained(ctx context.Context, numberID, waMessageID string) ([]byte, error) {
	t, err := s.db.RetainedContent(ctx, numberID, waMessageID, s.now())
	if err != nil || t == nil {
		return nil, err
	}
	return s.seal.open(t.MessageID, t.Content)
}
