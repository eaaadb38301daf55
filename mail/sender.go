package mail

import (
	"context"
	"log/slog"
	"time"

	"github.com/apiws/apiws/storage"
)

// Retry timing: a claimed mail is left alone by other senders for
// claimLease; a failed one waits firstRetry, doubling per attempt up to
// maxRetry.
const (
	claimLease = 2 * time.Minute
	firstRetry = 10 * time.Second
	maxRetry   = time.Hour
	batch      = 20
)

// Sender drains the mail outbox into a Transport.
type Sender struct {
	db        *storage.DB
	transport Transport
	from      string
	log       *slog.Logger
	wake      chan struct{}
	now       func() time.Time
}

// NewSender returns a sender of the outbox of db through t, with from as
// the sender address.
func NewSender(db *storage.DB, t Transport, from string, log *slog.Logger) *Sender {
	return &Sender{db: db, transport: t, from: from, log: log, wake: make(chan struct{}, 1),
		now: func() time.Time { return time.Now().UTC() }}
}

// Notify tells the sender that mail was queued, so it need not wait for
// its next look.
func (s *Sender) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// poll is how often the sender looks for due mail without a Notify.
const poll = 5 * time.Second

// Run sends due mail every few seconds and on Notify until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.SendDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("send mail", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// SendDue sends every mail due now and returns how many the transport
// accepted. A mail the transport refuses is tried again later, after a
// backoff that grows with its attempts.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	sent := 0
	for {
		ms, err := s.db.ClaimMail(ctx, s.now(), claimLease, batch)
		if err != nil || len(ms) == 0 {
			return sent, err
		}
		for _, m := range ms {
			err := s.transport.Send(ctx, &Message{ID: m.ID, From: s.from, To: m.To, Subject: m.Subject, Body: m.Body, Date: m.CreatedAt})
			if err != nil {
				next := s.now().Add(backoff(m.Attempts))
				s.log.Warn("mail not accepted; will retry", "mail", m.ID, "attempt", m.Attempts, "next", next, "err", err)
				if err := s.db.MailFailed(context.WithoutCancel(ctx), m.ID, next, err.Error()); err != nil {
					return sent, err
				}
				continue
			}
			if err := s.db.MailSent(context.WithoutCancel(ctx), m.ID); err != nil {
				return sent, err
			}
			sent++
		}
		if len(ms) < batch {
			return sent, nil
		}
	}
}

// backoff is the wait before the attempt after the attempts-th.
func backoff(attempts int) time.Duration {
	d := firstRetry
	for i := 1; i < attempts && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}
