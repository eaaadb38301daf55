package usage

import (
	"context"
	"sort"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// MaxBuckets caps how many buckets one usage question may ask for: a leap
// year of hours.
const MaxBuckets = 24 * 366

// RecordMessage implements apiws.UsageService. It writes at once (unlike
// calls) so that a quota check right after sees the message accepted.
func (s *Service) RecordMessage(ctx context.Context, accountID string, status apiws.MessageStatus, at time.Time) error {
	var n apiws.UsageCounts
	switch status {
	case apiws.StatusQueued:
		n.Accepted = 1
	case apiws.StatusSent:
		n.Sent = 1
	case apiws.StatusDelivered:
		n.Delivered = 1
	case apiws.StatusRead:
		n.Read = 1
	case apiws.StatusFailed:
		n.Failed = 1
	case apiws.StatusReceived:
		n.Received = 1
	default:
		return nil
	}
	// Counted in memory and written with the next batch of calls: a status
	// change adds no write of its own.
	s.pending.add(appendRows(nil, accountID, at, n))
	return nil
}

// Usage implements apiws.UsageService from the rollups alone: hours for
// HOUR, days for DAY and MONTH. Each bucket is whole: the last one may
// reach past to.
func (s *Service) Usage(ctx context.Context, accountID string, from, to time.Time, g apiws.Granularity) ([]*apiws.UsageBucket, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	if !g.Valid() {
		return nil, apiws.Errorf(apiws.EINVALID, "unknown granularity %q", g)
	}
	if !to.After(from) {
		return nil, apiws.Errorf(apiws.EINVALID, "to must be after from")
	}
	var starts []time.Time
	end := g.Truncate(from)
	for end.Before(to) {
		if len(starts) == MaxBuckets {
			return nil, apiws.Errorf(apiws.EINVALID, "at most %d buckets can be asked for at once", MaxBuckets)
		}
		starts = append(starts, end)
		end = g.Next(end)
	}
	period := storage.PeriodDay
	if g == apiws.Hour {
		period = storage.PeriodHour
	}
	rows, err := s.db.UsageRows(ctx, accountID, period, starts[0], end)
	if err != nil {
		return nil, err
	}
	if more := s.pending.of(accountID, period, starts[0], end); len(more) > 0 {
		rows = append(rows, more...)
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Start.Before(rows[j].Start) })
	}
	counts := make([]apiws.UsageCounts, len(starts))
	i := 0
	for _, r := range rows {
		// Rows come oldest first, so the bucket index only moves forward.
		for i+1 < len(starts) && !r.Start.Before(starts[i+1]) {
			i++
		}
		counts[i].Add(&r.Counts)
	}
	out := make([]*apiws.UsageBucket, len(starts))
	for i, st := range starts {
		c := &counts[i]
		out[i] = &apiws.UsageBucket{
			Start: st, APICalls: int(c.APICalls), Errors: int(c.Errors),
			MessagesSent: int(c.Sent), MessagesDelivered: int(c.Delivered), MessagesRead: int(c.Read),
			MessagesFailed: int(c.Failed), MessagesReceived: int(c.Received),
			P50LatencyMs: c.LatencyQuantile(0.50), P95LatencyMs: c.LatencyQuantile(0.95),
		}
	}
	return out, nil
}
