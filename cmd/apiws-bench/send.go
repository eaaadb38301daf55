package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// sendResult is what one send load measured.
type sendResult struct {
	accepted, errors int64
	elapsed          time.Duration // of the sending
	acceptLatency    *latencies
	sent             int64         // SENT events seen
	sentSpan         time.Duration // from the first send to the last SENT
	drained          bool          // every accepted message reached SENT
	statements       float64       // SQL statements the server ran meanwhile
	trips            float64       // and its round trips to PostgreSQL (-1: not counted by that server)
	journalBusy      float64       // share of the time its journal's committers spent committing (-1: not counted)
	journalWrites    float64       // writes per journal commit
	busDropped       float64       // bus subscriptions the server dropped as too slow (-1: not counted)
	behind           float64       // event subscriptions that fell behind and read the log (-1: not counted)
	cpu              cpuUse        // from the first send until the queue drained
	cpuMeasured      bool
}

// statementsPerMessage is the server's SQL statements per accepted message,
// through SENT, DELIVERED and READ (background work included).
func (r *sendResult) statementsPerMessage() float64 { return r.perMessage(r.statements) }

// The server's counters of its SQL statements and round trips, and of its
// journal.
const (
	statementsMetric  = "apiws_db_statements_total"
	tripsMetric       = "apiws_db_round_trips_total"
	journalBusyMetric = "apiws_journal_busy_seconds_total"
	commitsMetric     = "apiws_journal_commits_total"
	writesMetric      = "apiws_journal_writes_total"
	busDroppedMetric  = "apiws_bus_dropped_subscribers_total"
	behindMetric      = "apiws_event_followers_behind_total"
)

// serverCounters are the counters a send load reads before and after.
var serverCounters = []string{statementsMetric, tripsMetric, journalBusyMetric, commitsMetric, writesMetric, busDroppedMetric, behindMetric}

// perMessage is n per accepted message.
func (r *sendResult) perMessage(n float64) float64 {
	if r.accepted == 0 {
		return 0
	}
	return n / float64(r.accepted)
}

func (r *sendResult) acceptedPerSecond() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

func (r *sendResult) sentPerSecond() float64 {
	if r.sentSpan <= 0 {
		return 0
	}
	return float64(r.sent) / r.sentSpan.Seconds()
}

// sendLoad has clients goroutines call sendMessage (sendMessages of batch
// messages when batch > 1) on the numbers in turn for dur, while one
// subscriber counts the SENT events; then it waits (bounded) for the rest
// of the queue to reach SENT. Accept latency is per request. With profile
// set it captures a CPU profile of the server under that name meanwhile.
func (b *bench) sendLoad(ctx context.Context, numbers []string, clients, batch int, dur time.Duration, profile string) (*sendResult, error) {
	base, err := b.baseCursor(ctx, numbers[0])
	if err != nil {
		return nil, err
	}
	ws, err := dialWS(ctx, b.api.base, b.api.token)
	if err != nil {
		return nil, err
	}
	if err := ws.subscribe("s", statusSubscription, map[string]any{"after": strconv.FormatInt(base, 10)}); err != nil {
		ws.close()
		return nil, err
	}
	var sent atomic.Int64
	var lastSent atomic.Int64 // unix nanoseconds of the latest SENT's at
	observer := follow(ws, "s", followStatus.field, base, func(ev statusEvent, _ time.Time) {
		if ev.Status != "SENT" {
			return
		}
		sent.Add(1)
		if at, err := time.Parse(time.RFC3339Nano, ev.At); err == nil && at.UnixNano() > lastSent.Load() {
			lastSent.Store(at.UnixNano())
		}
	})
	defer func() { ws.close(); <-observer.done }()

	res := &sendResult{acceptLatency: &latencies{}}
	before, err := b.api.metricValues(ctx, serverCounters...)
	if err == nil {
		err = exported(before, statementsMetric)
	}
	if err != nil {
		return nil, err
	}
	var accepted, failed, seq atomic.Int64
	var firstErr sync.Once
	cpuBefore := takeCPU(b.pid)
	start := time.Now()
	stopAt := start.Add(dur)
	profiled := b.profile(ctx, profile, dur)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var lats []time.Duration
			defer func() { res.acceptLatency.merge(lats) }()
			for time.Now().Before(stopAt) && ctx.Err() == nil {
				i := int(seq.Add(1))
				t := time.Now()
				n, err := 1, error(nil)
				if batch > 1 {
					n, err = b.api.sendMany(ctx, numbers[i%len(numbers)], i*batch, batch)
				} else {
					_, err = b.api.send(ctx, numbers[i%len(numbers)], recipient(i))
				}
				accepted.Add(int64(n))
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					failed.Add(1)
					firstErr.Do(func() { b.report.fail("send: %v", err) })
					continue
				}
				lats = append(lats, time.Since(t))
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.accepted, res.errors = accepted.Load(), failed.Load()
	<-profiled

	drainUntil := time.Now().Add(max(15*time.Second, 3*dur))
	for sent.Load() < res.accepted && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	res.sent = sent.Load()
	res.drained = res.sent >= res.accepted
	if res.drained {
		// Let the last receipts (DELIVERED, READ) land before counting.
		time.Sleep(500 * time.Millisecond)
	}
	res.cpu, res.cpuMeasured = cpuBetween(cpuBefore, takeCPU(b.pid), time.Since(start))
	res.trips, res.journalBusy, res.busDropped, res.behind = -1, -1, -1, -1
	if after, err := b.api.metricValues(ctx, serverCounters...); err == nil {
		res.statements = after[statementsMetric] - before[statementsMetric]
		// Older servers count neither their round trips nor their
		// journal's time.
		if trips, ok := after[tripsMetric]; ok {
			res.trips = trips - before[tripsMetric]
		}
		if dropped, ok := after[busDroppedMetric]; ok {
			res.busDropped = dropped - before[busDroppedMetric]
		}
		if behind, ok := after[behindMetric]; ok {
			res.behind = behind - before[behindMetric]
		}
		if busy, ok := after[journalBusyMetric]; ok {
			res.journalBusy = (busy - before[journalBusyMetric]) / time.Since(start).Seconds()
			if commits := after[commitsMetric] - before[commitsMetric]; commits > 0 {
				res.journalWrites = (after[writesMetric] - before[writesMetric]) / commits
			}
		}
	}
	if last := lastSent.Load(); last > 0 {
		res.sentSpan = time.Unix(0, last).Sub(start)
	}
	ws.close()
	<-observer.done
	if observer.missing > 0 || observer.duplicated > 0 {
		b.report.fail("send: the status subscriber saw %d missing and %d duplicated events", observer.missing, observer.duplicated)
	}
	if observer.err != nil {
		b.report.fail("send: status subscription: %v", observer.err)
	}
	if !res.drained {
		b.report.note("send over %d number(s): %d accepted messages had not reached SENT %s after sending stopped",
			len(numbers), res.accepted-res.sent, time.Since(start.Add(res.elapsed)).Round(time.Second))
	}
	return res, nil
}

// baseCursor returns the account's latest cursor: it sends a marker
// message through numberID and waits for its READ event on a live
// subscription. Later events of the account have higher cursors.
func (b *bench) baseCursor(ctx context.Context, numberID string) (int64, error) {
	ws, err := dialWS(ctx, b.api.base, b.api.token)
	if err != nil {
		return 0, err
	}
	defer ws.close()
	if err := ws.subscribe("m", statusSubscription, nil); err != nil {
		return 0, err
	}
	reads := make(chan statusEvent, 4096)
	st := follow(ws, "m", followStatus.field, 0, func(ev statusEvent, _ time.Time) {
		if ev.Status == "READ" {
			select {
			case reads <- ev:
			default:
			}
		}
	})
	defer func() { ws.close(); <-st.done }()
	deadline := time.After(20 * time.Second)
	for {
		// A live subscription starts asynchronously: a marker sent before
		// it follows the bus is not seen, so markers repeat until one is.
		time.Sleep(200 * time.Millisecond)
		marker, err := b.api.send(ctx, numberID, recipient(0))
		if err != nil {
			return 0, err
		}
		resend := time.After(3 * time.Second)
	wait:
		for {
			select {
			case ev := <-reads:
				if ev.MessageID == marker {
					return strconv.ParseInt(ev.Cursor, 10, 64)
				}
			case <-resend:
				break wait
			case <-deadline:
				return 0, fmt.Errorf("no READ event of a marker message within 20s")
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
}
