package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// eventsPerMessage is how many status events a message to an ordinary
// sandbox recipient makes: QUEUED, SENT, DELIVERED, READ.
const eventsPerMessage = 4

// fanoutResult is what one fan-out run measured, for apiws or the relay.
type fanoutResult struct {
	subscribers int
	events      int64 // each subscriber should receive
	delivered   int64
	span        time.Duration // from the first event to its last delivery
	// rate is how fast the events were made (events/s, by their at): the
	// relay baseline publishes at the same rate.
	rate       float64
	latency    *latencies
	missing    int64
	duplicated int64
	incomplete int     // subscribers that did not get every event in time
	stuckAt    string  // the cursors incomplete subscribers stopped at, for diagnosis
	rssPerSub  float64 // bytes per idle subscription; 0 when not measured
	// What the Go runtime says of the same idle subscriptions (from
	// /metrics, after a collection), per subscription: goroutines, live
	// heap objects and stacks. Unlike the RSS, whose growth is smaller
	// when the heap had room left from earlier work, this is what they
	// hold.
	goroutinesPerSub float64
	heapPerSub       float64
	stacksPerSub     float64
	// publishDelay is the server's own account of the events' delay from
	// their at to their publication (their commit), over the run's sends:
	// what subscribers wait before any delivery starts.
	publishDelay histogram
}

// goMemory reads the server's goroutines, its live Go heap (all of it right
// after a collection) and its stacks in use.
func (a *api) goMemory(ctx context.Context) (goroutines, heap, stacks float64, err error) {
	names := []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_memstats_stack_inuse_bytes"}
	values, err := a.metricValues(ctx, names...)
	if err == nil {
		err = exported(values, names...)
	}
	return values[names[0]], values[names[1]], values[names[2]], err
}

func (r *fanoutResult) deliveredPerSecond() float64 {
	if r.span <= 0 {
		return 0
	}
	return float64(r.delivered) / r.span.Seconds()
}

// subscribers opens n websocket clients to base, each following f after
// the cursor after.
func subscribers(ctx context.Context, base, token string, f followed, n int, after int64) ([]*wsClient, []*stream, error) {
	clients := make([]*wsClient, n)
	streams := make([]*stream, n)
	var firstErr error
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, 32) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialWS(ctx, base, token)
				if err == nil {
					err = c.subscribe("s", f.query, map[string]any{"after": strconv.FormatInt(after, 10)})
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("subscriber %d: %w", i, err)
					}
					mu.Unlock()
					if c != nil {
						c.close()
					}
					return
				}
				clients[i], streams[i] = c, follow(c, "s", f.field, after, nil)
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		closeAll(clients, streams)
		return nil, nil, firstErr
	}
	return clients, streams, nil
}

// closeAll closes the clients and waits for their streams to end.
func closeAll(clients []*wsClient, streams []*stream) {
	for i, c := range clients {
		if c != nil {
			c.close()
			<-streams[i].done
		}
	}
}

// collect closes the clients and sums their streams into r.
func collect(r *fanoutResult, start time.Time, clients []*wsClient, streams []*stream) {
	closeAll(clients, streams)
	r.latency = &latencies{}
	var last, firstEv, lastEv time.Time
	stuck := map[int64]int{}
	for _, s := range streams {
		got := s.received.Load()
		r.delivered += got
		r.duplicated += s.duplicated
		r.missing += s.missing
		if got < r.events {
			r.incomplete++
			// Events never seen at the end are missing too.
			r.missing += max(0, r.events-got-s.missing)
			stuck[s.next-1]++
		}
		r.latency.merge(s.lat)
		if s.lastAt.After(last) {
			last = s.lastAt
		}
		if !s.firstEvAt.IsZero() && (firstEv.IsZero() || s.firstEvAt.Before(firstEv)) {
			firstEv = s.firstEvAt
		}
		if s.lastEvAt.After(lastEv) {
			lastEv = s.lastEvAt
		}
	}
	if !firstEv.IsZero() && firstEv.After(start) {
		start = firstEv
	}
	r.span = last.Sub(start)
	if d := lastEv.Sub(firstEv); d > 0 && r.events > 1 {
		r.rate = float64(r.events-1) / d.Seconds()
	}
	if len(stuck) > 0 {
		r.stuckAt = fmt.Sprint(stuck)
	}
}

// fanout subscribes n clients to f, measures the server's memory with them
// idle, then sends messages and measures their delivery to every client.
func (b *bench) fanout(ctx context.Context, f followed, numberID string, n, messages int, profile string) (*fanoutResult, error) {
	base, err := b.baseCursor(ctx, numberID)
	if err != nil {
		return nil, err
	}
	b.collectGarbage(ctx)
	rssBefore, err := b.api.rss(ctx, b.pid)
	if err != nil {
		return nil, err
	}
	gBefore, heapBefore, stacksBefore, goErr := b.api.goMemory(ctx)
	clients, streams, err := subscribers(ctx, b.api.base, b.api.token, f, n, base)
	if err != nil {
		return nil, err
	}
	time.Sleep(b.opts.settle)
	r := &fanoutResult{subscribers: n, events: int64(messages * eventsPerMessage)}
	b.logf("fan-out %d: base cursor %d", n, base)
	b.collectGarbage(ctx)
	if rssAfter, err := b.api.rss(ctx, b.pid); err == nil {
		r.rssPerSub = (rssAfter - rssBefore) / float64(n)
	}
	if gAfter, heapAfter, stacksAfter, err := b.api.goMemory(ctx); err == nil && goErr == nil {
		r.goroutinesPerSub = (gAfter - gBefore) / float64(n)
		r.heapPerSub = (heapAfter - heapBefore) / float64(n)
		r.stacksPerSub = (stacksAfter - stacksBefore) / float64(n)
	}
	if profile != "" {
		b.heapProfile(ctx, profile+"-idle-heap")
	}

	delaysBefore, delayErr := b.api.histogram(ctx, publishDelayMetric)
	start := time.Now()
	profiled := b.profile(ctx, profile, b.opts.profileFor)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range b.opts.clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1))
				if i > messages || ctx.Err() != nil {
					return
				}
				if rate := b.opts.fanoutRate; rate > 0 {
					// Message i goes at its turn: events reach the
					// subscribers at rate deliveries/s.
					perMessage := float64(n*eventsPerMessage) / rate
					wait := time.Until(start.Add(time.Duration(float64(i-1) * perMessage * float64(time.Second))))
					select {
					case <-time.After(wait):
					case <-ctx.Done():
						return
					}
				}
				if _, err := b.api.send(ctx, numberID, recipient(i)); err != nil && ctx.Err() == nil {
					b.report.fail("fan-out: sendMessage: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitReceived(ctx, streams, r.events, time.Now().Add(b.opts.fanoutWait))
	<-profiled
	for i, s := range streams {
		if s.err != nil {
			b.report.fail("fan-out %d: subscriber %d: %v", n, i, s.err)
			break
		}
	}
	collect(r, start, clients, streams)
	if after, err := b.api.histogram(ctx, publishDelayMetric); err == nil && delayErr == nil {
		r.publishDelay = after.minus(delaysBefore)
	}
	return r, nil
}
