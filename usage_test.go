package apiws

import (
	"math"
	"testing"
	"time"
)

func TestGranularity(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		g        Granularity
		t, start string
		next     string // the start of the next bucket
	}{
		{Hour, "2026-03-15T10:45:30.5Z", "2026-03-15T10:00:00Z", "2026-03-15T11:00:00Z"},
		{Hour, "2026-03-15T23:59:59Z", "2026-03-15T23:00:00Z", "2026-03-16T00:00:00Z"},
		{Hour, "2026-03-15T10:00:00Z", "2026-03-15T10:00:00Z", "2026-03-15T11:00:00Z"},
		{Day, "2026-03-15T10:45:30Z", "2026-03-15T00:00:00Z", "2026-03-16T00:00:00Z"},
		{Day, "2026-03-15T01:30:00+02:00", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z"}, // UTC days
		{Day, "2024-02-28T12:00:00Z", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"},
		{Day, "2026-12-31T23:00:00Z", "2026-12-31T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Month, "2026-03-15T10:45:30Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"},
		{Month, "2026-03-01T01:00:00+02:00", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{Month, "2026-01-31T00:00:00Z", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"},
		{Month, "2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"WEEK", "2026-03-15T10:45:30Z", "2026-03-15T00:00:00Z", "2026-03-16T00:00:00Z"}, // anything else is a day
	}
	for _, tt := range tests {
		start := tt.g.Truncate(at(tt.t))
		if !start.Equal(at(tt.start)) || start.Location() != time.UTC {
			t.Errorf("%s.Truncate(%s) = %v; want %s", tt.g, tt.t, start, tt.start)
		}
		if next := tt.g.Next(start); !next.Equal(at(tt.next)) {
			t.Errorf("%s.Next(%v) = %v; want %s", tt.g, start, next, tt.next)
		}
	}
}

func TestGranularityValid(t *testing.T) {
	for g, want := range map[Granularity]bool{Hour: true, Day: true, Month: true, "WEEK": false, "": false, "hour": false} {
		if got := g.Valid(); got != want {
			t.Errorf("%q.Valid() = %v; want %v", g, got, want)
		}
	}
}

func TestLatencyBucket(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-time.Millisecond, 0},
		{0, 0},
		{5 * time.Millisecond, 0}, // bounds are inclusive
		{5*time.Millisecond + 1, 1},
		{10 * time.Millisecond, 1},
		{99 * time.Millisecond, 4},
		{10 * time.Second, LatencyBuckets - 2},
		{10*time.Second + 1, LatencyBuckets - 1},
		{time.Hour, LatencyBuckets - 1},
	}
	for _, tt := range tests {
		if got := LatencyBucket(tt.d); got != tt.want {
			t.Errorf("LatencyBucket(%v) = %d; want %d", tt.d, got, tt.want)
		}
	}
}

func TestLatencyQuantile(t *testing.T) {
	hist := func(counts map[int]int64) *UsageCounts {
		c := &UsageCounts{}
		for i, n := range counts {
			c.Latency[i] = n
		}
		return c
	}
	tests := []struct {
		name   string
		counts map[int]int64
		q      float64
		want   float64 // NaN: nil
	}{
		{"no calls", nil, 0.5, math.NaN()},
		{"median within the first bucket", map[int]int64{0: 10}, 0.5, 2.5},
		{"p99 within the first bucket", map[int]int64{0: 10}, 0.99, 4.95},
		{"median within 10-25 ms", map[int]int64{2: 10}, 0.5, 17.5},
		{"p1 within 5-10 ms", map[int]int64{1: 100}, 0.01, 5.05},
		{"median at the top of the lower of two buckets", map[int]int64{0: 5, 4: 5}, 0.5, 5},
		{"p60 in the higher of two buckets, empty ones between skipped", map[int]int64{0: 5, 4: 5}, 0.6, 60},
		{"in the overflow bucket: its lower bound", map[int]int64{LatencyBuckets - 1: 3}, 0.5, 10000},
		{"p99 past the last bounded bucket", map[int]int64{0: 98, LatencyBuckets - 1: 2}, 0.99, 10000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := hist(tt.counts).LatencyQuantile(tt.q)
			if math.IsNaN(tt.want) {
				if got != nil {
					t.Fatalf("LatencyQuantile(%v) = %v; want nil", tt.q, *got)
				}
				return
			}
			if got == nil || math.Abs(*got-tt.want) > 1e-9 {
				t.Fatalf("LatencyQuantile(%v) = %v; want %v", tt.q, deref(got), tt.want)
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
