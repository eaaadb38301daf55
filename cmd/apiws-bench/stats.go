package main

import (
	"slices"
	"sync"
	"time"
)

// latencies collects durations from many goroutines; it keeps at most
// maxSamples of them, which bounds its memory on long runs.
type latencies struct {
	mu      sync.Mutex
	samples []time.Duration
}

const maxSamples = 2_000_000

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) < maxSamples {
		l.samples = append(l.samples, d)
	}
}

// merge adds a batch collected by one goroutine.
func (l *latencies) merge(ds []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	room := max(0, maxSamples-len(l.samples))
	l.samples = append(l.samples, ds[:min(room, len(ds))]...)
}

// quantile returns the q-quantile (0 < q ≤ 1) of the samples, 0 with none.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return 0
	}
	slices.Sort(l.samples)
	i := int(q*float64(len(l.samples))+0.5) - 1
	return l.samples[min(max(i, 0), len(l.samples)-1)]
}

// ms formats a duration in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
