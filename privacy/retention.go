// Package privacy carries out the privacy promises: retention periods now,
// privacy requests later.
package privacy

import (
	"context"
	"fmt"
	"time"

	"github.com/apiws/apiws/storage"
)

// IdempotencyWindow is how long an idempotency key returns the first message.
const IdempotencyWindow = 24 * time.Hour

// SweepReport says what one retention sweep deleted.
type SweepReport struct {
	CapturedContents int
}

// Sweep enforces the retention periods as of asOf: content kept under a
// debug capture is deleted once the capture ends, and idempotency keys are
// forgotten after 24 hours. On SQLite it ends with a WAL checkpoint, so
// deleted (securely overwritten) data is gone from the files when it returns.
func Sweep(ctx context.Context, db *storage.DB, asOf time.Time) (SweepReport, error) {
	var r SweepReport
	var err error
	if r.CapturedContents, err = db.PurgeCapturedContent(ctx, asOf); err != nil {
		return r, fmt.Errorf("purge captured content: %w", err)
	}
	if err := db.ForgetIdempotencyKeys(ctx, asOf.Add(-IdempotencyWindow)); err != nil {
		return r, fmt.Errorf("forget idempotency keys: %w", err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		return r, fmt.Errorf("checkpoint: %w", err)
	}
	return r, nil
}

// Run sweeps every interval until ctx ends.
func Run(ctx context.Context, db *storage.DB, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := Sweep(ctx, db, time.Now().UTC()); err != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
