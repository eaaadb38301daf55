// Package support keeps the customers' support tickets: a customer opens
// one from the dashboard, operators answer from the support queue, and
// every answer mails the other side through the mail outbox. Tickets are
// the account's data: exported with it and erased with it.
package support

import (
	"context"
	"log/slog"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Options configure a Service.
type Options struct {
	// SupportEmail is where new tickets and the customers' answers are
	// mailed (APIWS_SUPPORT_EMAIL); "" mails staff nothing: operators
	// find the tickets in the support queue.
	SupportEmail string
	// PublicURL is the deployment's address, for the links in the mails.
	PublicURL string
	// Limiter bounds the tickets and answers of an account (each one
	// mails); nil: no bound.
	Limiter apiws.Limiter
	// MailQueued is called after mail was queued (to wake the sender).
	MailQueued func()
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Service implements apiws.SupportService.
type Service struct {
	db   *storage.DB
	opts Options
	now  func() time.Time
	log  *slog.Logger
}

var _ apiws.SupportService = (*Service)(nil)

// New returns the service over db.
func New(db *storage.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, opts: opts, log: opts.Log, now: func() time.Time { return opts.Now().UTC() }}
}

// Limits per account: a customer opens at most 10 tickets an hour and
// answers at most 60 times an hour, in bursts if need be.
var (
	openLimit  = apiws.Limit{Rate: 10.0 / 3600, Burst: 10}
	replyLimit = apiws.Limit{Rate: 60.0 / 3600, Burst: 30}
)

// limit counts one event of what for the account and refuses it when over
// l.
func (s *Service) limit(ctx context.Context, what, accountID string, l apiws.Limit) error {
	if s.opts.Limiter == nil {
		return nil
	}
	return apiws.CheckLimit(ctx, s.opts.Limiter, "support:"+what+":"+accountID, l)
}

// mailQueued wakes the mail sender, if there is one.
func (s *Service) mailQueued() {
	if s.opts.MailQueued != nil {
		s.opts.MailQueued()
	}
}
