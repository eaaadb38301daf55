package usage

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// recorder buffers API calls in memory and writes them in batches, so that
// recording one never puts a database write on the request's path.
type recorder struct {
	s       *Service
	calls   chan *apiws.APICall
	dropped prometheus.Counter
	written prometheus.Counter
}

func newRecorder(s *Service, size int) *recorder {
	return &recorder{
		s:     s,
		calls: make(chan *apiws.APICall, size),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_api_calls_dropped_total",
			Help: "API calls not logged because the write buffer was full or the database kept failing.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_api_calls_written_total", Help: "API calls written to the call log.",
		}),
	}
}

// RecordCall implements apiws.UsageService: it queues c for the background
// writer, or drops and counts it when the buffer is full. The client's
// strings are cut to what the log keeps (apiws.TruncateText): it holds them
// for 12 months.
func (s *Service) RecordCall(c *apiws.APICall) {
	c.UserAgent = truncated(c.UserAgent, apiws.MaxUserAgentBytes)
	c.OperationName = truncated(c.OperationName, apiws.MaxOperationNameBytes)
	select {
	case s.rec.calls <- c:
	default:
		s.rec.dropped.Inc()
	}
}

// Run writes recorded calls until ctx ends, then writes what is still
// buffered and returns. Stop the HTTP server before ending ctx so that no
// call is recorded after the last write.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.opt.FlushInterval)
	defer t.Stop()
	var batch []*apiws.APICall
	for {
		select {
		case c := <-s.rec.calls:
			batch = append(batch, c)
			if len(batch) >= s.opt.BatchSize {
				batch = s.write(ctx, batch)
			}
		case <-t.C:
			batch = s.write(ctx, batch)
		case <-ctx.Done():
			s.drain(context.WithoutCancel(ctx), batch)
			return nil
		}
	}
}

// drain writes the batch and everything buffered, giving up on a batch
// that fails twice.
func (s *Service) drain(ctx context.Context, batch []*apiws.APICall) {
	for {
		for len(batch) < s.opt.BatchSize {
			select {
			case c := <-s.rec.calls:
				batch = append(batch, c)
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			s.write(ctx, nil) // the last message counts
			return
		}
		if batch = s.write(ctx, batch); len(batch) > 0 {
			if batch = s.write(ctx, batch); len(batch) > 0 {
				s.rec.dropped.Add(float64(len(batch)))
				batch = nil
			}
		}
	}
}

// write writes a batch and its rollups; on failure it returns the batch to
// try again with the next, unless that would hold more than a buffer's
// worth, in which case the batch is dropped and counted.
func (s *Service) write(ctx context.Context, batch []*apiws.APICall) []*apiws.APICall {
	s.writing.Lock()
	defer s.writing.Unlock()
	messages := s.pending.take()
	if len(batch) == 0 && len(messages) == 0 {
		return batch
	}
	// Cached quotas are stale from here (the counts taken are in neither
	// place until the write ends) and again once the write ends.
	s.written.Add(1)
	defer s.written.Add(1)
	err := s.db.WriteUsage(ctx, batch, append(callRows(batch), messages...))
	if err != nil {
		// An account erased meanwhile would fail the whole batch for ever:
		// what belongs to accounts that are gone is dropped, the rest
		// written.
		if batch, messages, err = s.withoutErased(ctx, batch, messages); err == nil {
			err = s.db.WriteUsage(ctx, batch, append(callRows(batch), messages...))
		}
	}
	if err != nil {
		s.pending.add(messages) // counts wait for the next write
		s.log.Warn("write api calls", "err", err, "calls", len(batch))
		if len(batch) >= s.opt.BufferSize {
			s.rec.dropped.Add(float64(len(batch)))
			return nil
		}
		return batch
	}
	s.rec.written.Add(float64(len(batch)))
	return batch[:0]
}

// callRows counts calls into the hour and day rows they belong to.
func callRows(calls []*apiws.APICall) []storage.UsageRow {
	rows := make([]storage.UsageRow, 0, 2*len(calls))
	for _, c := range calls {
		var n apiws.UsageCounts
		n.APICalls = 1
		if !c.OK {
			n.Errors = 1
		}
		n.Latency[apiws.LatencyBucket(c.Duration)] = 1
		rows = appendRows(rows, c.AccountID, c.At, n)
	}
	return rows
}

// appendRows adds n to the hour and the day that hold at.
func appendRows(rows []storage.UsageRow, accountID string, at time.Time, n apiws.UsageCounts) []storage.UsageRow {
	return append(rows,
		storage.UsageRow{AccountID: accountID, Period: storage.PeriodHour, Start: apiws.Hour.Truncate(at), Counts: n},
		storage.UsageRow{AccountID: accountID, Period: storage.PeriodDay, Start: apiws.Day.Truncate(at), Counts: n})
}

// withoutErased drops the calls and counts of accounts that no longer
// exist.
func (s *Service) withoutErased(ctx context.Context, batch []*apiws.APICall, rows []storage.UsageRow) ([]*apiws.APICall, []storage.UsageRow, error) {
	seen := map[string]bool{}
	var ids []string
	for _, c := range batch {
		if !seen[c.AccountID] {
			seen[c.AccountID] = true
			ids = append(ids, c.AccountID)
		}
	}
	for _, r := range rows {
		if !seen[r.AccountID] {
			seen[r.AccountID] = true
			ids = append(ids, r.AccountID)
		}
	}
	accs, err := s.db.AccountsByIDs(ctx, ids)
	if err != nil {
		return batch, rows, err
	}
	exists := map[string]bool{}
	for _, a := range accs {
		exists[a.ID] = true
	}
	keptCalls := batch[:0]
	for _, c := range batch {
		if exists[c.AccountID] {
			keptCalls = append(keptCalls, c)
		} else {
			s.rec.dropped.Inc()
		}
	}
	var keptRows []storage.UsageRow
	for _, r := range rows {
		if exists[r.AccountID] {
			keptRows = append(keptRows, r)
		}
	}
	return keptCalls, keptRows, nil
}

func truncated(s *string, max int) *string {
	if s == nil {
		return nil
	}
	t := apiws.TruncateText(*s, max)
	return &t
}
