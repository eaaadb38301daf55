// Package privacy carries out the privacy promises: the privacy requests
// of the Privacy Request Form, policy versions and their notices, legal
// holds, and the retention sweep that enforces every period of the policy.
package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// IdempotencyWindow is how long an idempotency key returns the first message.
const IdempotencyWindow = 24 * time.Hour

// sweepLease bounds how long a dead sweeper's SQLite lock row blocks the
// next sweep.
const sweepLease = 10 * time.Minute

// SweepReport says what one retention sweep deleted.
type SweepReport struct {
	// Skipped is true when another sweep was running; nothing was done.
	Skipped          bool
	CapturedContents int
	// Transit counts content in transit (of sent messages and of logged
	// events) deleted at the end of its time.
	Transit        int
	APICalls       int
	Messages       int
	Events         int
	UsageRollups   int
	AccountsPurged int
	Invoices       int
	Exports        int
	Sessions       int
	CodesExpired   int
}

// String summarises the report for the CLI and the logs.
func (r SweepReport) String() string {
	if r.Skipped {
		return "skipped: another sweep is running"
	}
	return fmt.Sprintf("%d captured contents, %d contents in transit, %d API calls, %d messages (and %d other events), %d usage rollups, %d accounts, %d invoices, %d exports, %d sessions purged; %d verification codes expired",
		r.CapturedContents, r.Transit, r.APICalls, r.Messages, r.Events, r.UsageRollups, r.AccountsPurged, r.Invoices, r.Exports, r.Sessions, r.CodesExpired)
}

// Sweep enforces the retention periods as of asOf, once across every
// instance (a database lock; a sweep that finds it taken does nothing):
//   - content kept under a debug capture: until the capture ends;
//   - idempotency keys: 24 hours;
//   - API calls, message metadata (with events) and usage rollups: 12 months;
//   - accounts pending deletion: purged, every row, when the grace ends;
//   - invoices: 7 years, pseudonymised once their account is purged;
//   - privacy exports: 7 days; ended sessions and expired codes.
//
// A legal hold suspends every delete for its account. On SQLite it ends
// with a WAL checkpoint, so deleted (securely overwritten) data is gone
// from the files when it returns.
func Sweep(ctx context.Context, db *storage.DB, asOf time.Time) (SweepReport, error) {
	var r SweepReport
	unlock, ok, err := db.TryLock(ctx, "retention-sweep", sweepLease)
	if err != nil {
		return r, fmt.Errorf("take the sweep lock: %w", err)
	}
	if !ok {
		r.Skipped = true
		return r, nil
	}
	defer unlock()

	usageCutoff := asOf.AddDate(0, -apiws.UsageRetentionMonths, 0)
	steps := []struct {
		what string
		n    *int
		run  func() (int, error)
	}{
		{"purge captured content", &r.CapturedContents, func() (int, error) { return db.PurgeCapturedContent(ctx, asOf) }},
		{"delete content in transit", &r.Transit, func() (int, error) { return db.DeleteExpiredTransit(ctx, asOf) }},
		{"forget idempotency keys", nil, func() (int, error) {
			return 0, db.ForgetIdempotencyKeys(ctx, asOf.Add(-IdempotencyWindow))
		}},
		{"expire verification codes", &r.CodesExpired, func() (int, error) { return expireCodes(ctx, db, asOf) }},
		{"forget expired email change codes", nil, func() (int, error) {
			n, err := db.DeleteExpiredEmailChanges(ctx, asOf)
			r.CodesExpired += n
			return n, err
		}},
		{"purge erased accounts", &r.AccountsPurged, func() (int, error) { return purgeErased(ctx, db, asOf) }},
		{"delete API calls", &r.APICalls, func() (int, error) { return db.DeleteAPICallsBefore(ctx, usageCutoff) }},
		{"delete message metadata", &r.Messages, func() (int, error) { return db.DeleteMessagesBefore(ctx, usageCutoff) }},
		{"delete other events", &r.Events, func() (int, error) { return db.DeleteEventsBefore(ctx, usageCutoff) }},
		{"delete usage rollups", &r.UsageRollups, func() (int, error) { return db.DeleteUsageBefore(ctx, usageCutoff) }},
		{"delete invoices", &r.Invoices, func() (int, error) {
			return db.DeleteInvoicesBefore(ctx, asOf.AddDate(-apiws.FinancialRetentionYears, 0, 0))
		}},
		{"delete exports", &r.Exports, func() (int, error) { return db.DeleteExpiredExports(ctx, asOf) }},
		{"delete ended sessions", &r.Sessions, func() (int, error) { return db.DeleteEndedSessions(ctx, asOf) }},
	}
	for _, st := range steps {
		n, err := st.run()
		if st.n != nil {
			*st.n = n
		}
		if err != nil {
			return r, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	if deleted := r.APICalls + r.Messages + r.Events + r.UsageRollups + r.Invoices + r.Exports; deleted > 0 {
		entry := audit("", nil, "retention.purge", "as of "+asOf.Format(time.RFC3339)+": "+r.String(), time.Now().UTC())
		if err := db.Audit(ctx, entry); err != nil {
			return r, fmt.Errorf("audit: %w", err)
		}
	}
	if err := db.Checkpoint(ctx); err != nil {
		return r, fmt.Errorf("checkpoint: %w", err)
	}
	return r, nil
}

// expireCodes rejects the requests whose code expired unused, forgetting
// the code.
func expireCodes(ctx context.Context, db *storage.DB, asOf time.Time) (int, error) {
	total := 0
	for {
		rs, err := db.ExpiredVerifications(ctx, asOf)
		if err != nil || len(rs) == 0 {
			return total, err
		}
		for _, r := range rs {
			r.CodeHash, r.CodeExpiresAt = nil, nil
			r.Status, r.Resolution = apiws.RequestRejected, ptr("not verified: the code expired")
			if err := db.UpdatePrivacyRequest(ctx, r, audit(r.AccountID, nil, "privacy_request.reject", r.ID+": code expired", time.Now().UTC())); err != nil {
				return total, err
			}
			total++
		}
	}
}

// purgeErased deletes the accounts whose erasure grace ended by asOf. The
// audit entry of each purge names no one: it is what is left.
func purgeErased(ctx context.Context, db *storage.DB, asOf time.Time) (int, error) {
	total := 0
	for {
		ids, err := db.ErasuresDue(ctx, asOf)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		for _, id := range ids {
			entry := audit("", nil, "account.purge", "an account erased on request was purged", time.Now().UTC())
			if err := db.PurgeAccount(ctx, id, entry); err != nil {
				return total, err
			}
			total++
		}
	}
}

// sweepEvery is how often a running server sweeps. Sweeps of several
// instances take turns by a database lock.
const sweepEvery = time.Minute

// Run sweeps every minute until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := Sweep(ctx, s.db, s.now()); err != nil && ctx.Err() == nil {
				s.log.Error("retention sweep", "err", err)
			}
		}
	}
}
