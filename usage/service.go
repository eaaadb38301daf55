package usage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Options configure a Service; zero fields take the defaults.
type Options struct {
	// Plan is the plan of every account when Plans is nil.
	Plan apiws.Plan
	// Plans tells each account's plan (nil: Plan for all).
	Plans Plans
	// RatePerSecond is the request rate allowed per API key or dashboard
	// session; 0 turns request rate limits off. An account as a whole may
	// make AccountRateFactor times as many.
	RatePerSecond float64
	// Limiter enforces the request rates (default: in memory).
	Limiter apiws.Limiter
	// BufferSize bounds the calls waiting to be written (default 10000);
	// past it calls are dropped and counted.
	BufferSize int
	// BatchSize is the most calls written in one transaction (default 500).
	BatchSize int
	// FlushInterval is the longest a call waits to be written (default 1s).
	FlushInterval time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	Log *slog.Logger
}

// Plans tells which plan's limits apply to an account now.
type Plans interface {
	AccountPlan(ctx context.Context, accountID string) (*apiws.Plan, error)
}

// AccountRateFactor is how many times the per-key request rate an account
// may make over all its keys and sessions together.
const AccountRateFactor = 5

// Service implements apiws.UsageService and the request rate limits.
type Service struct {
	db   *storage.DB
	opt  Options
	log  *slog.Logger
	now  func() time.Time
	rec  *recorder
	lim  apiws.Limiter
	rate float64
	// pending are message counts waiting for the next write.
	pending pending
	// written counts the writes of rollups begun and ended; a quota read
	// from the database is reused only while it is unchanged.
	written atomic.Uint64
	// writing is held for writing while a rollup write is under way: the
	// counts it took from pending are then in neither pending nor (until
	// it commits) the database, so quota reads, which hold it for
	// reading, wait for it to end rather than count too few.
	writing sync.RWMutex
	// accepted caches each account's messages accepted this month as the
	// database had them (the pending counts are added on every read).
	accepted sync.Map // account id → acceptedRead
}

var _ apiws.UsageService = (*Service)(nil)

// New returns the service over db. Call Run to have recorded calls written.
func New(db *storage.DB, opt Options) *Service {
	if opt.BufferSize <= 0 {
		opt.BufferSize = 10000
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Limiter == nil {
		opt.Limiter = NewMemoryLimiter()
	}
	s := &Service{db: db, opt: opt, log: opt.Log, lim: opt.Limiter, rate: opt.RatePerSecond}
	s.now = func() time.Time { return opt.Now().UTC() }
	s.rec = newRecorder(s, opt.BufferSize)
	return s
}

// Collectors are the service's Prometheus metrics, for the server's
// registry. None of them is per account, so no account's activity shows in
// them individually.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.rec.dropped, s.rec.written}
}

// Plan implements apiws.UsageService.
func (s *Service) Plan(ctx context.Context, accountID string) (*apiws.Plan, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.plan(ctx, accountID)
}

// plan returns the plan whose limits apply to the account now.
func (s *Service) plan(ctx context.Context, accountID string) (*apiws.Plan, error) {
	if s.opt.Plans != nil {
		return s.opt.Plans.AccountPlan(ctx, accountID)
	}
	p := s.opt.Plan
	return &p, nil
}

// SendsPerSecond returns how fast each number of the account may send,
// by its plan.
func (s *Service) SendsPerSecond(ctx context.Context, accountID string) (float64, error) {
	p, err := s.plan(ctx, accountID)
	if err != nil {
		return 0, err
	}
	return p.SendsPerSecond, nil
}
