package main

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// streamTests feed cursors to a stream following after 10.
var streamTests = []struct {
	name                string
	cursors             []string
	received            int64
	missing, duplicated int64
}{
	{"consecutive", []string{"11", "12", "13"}, 3, 0, 0},
	{"a gap is missing events", []string{"11", "14", "15"}, 3, 2, 0},
	{"a repeat is a duplicate", []string{"11", "12", "12", "11", "13"}, 3, 0, 2},
	{"a first event past after+1 is a gap", []string{"13"}, 1, 2, 0},
}

func TestStreamChecksCursors(t *testing.T) {
	for _, tt := range streamTests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stream{next: 11}
			at := time.Now().UTC().Format(time.RFC3339Nano)
			for _, c := range tt.cursors {
				s.observe(statusEvent{Cursor: c, Status: "SENT", At: at}, time.Now())
			}
			if s.err != nil || s.received.Load() != tt.received || s.missing != tt.missing || s.duplicated != tt.duplicated {
				t.Errorf("received %d, missing %d, duplicated %d, err %v; want %d, %d, %d",
					s.received.Load(), s.missing, s.duplicated, s.err, tt.received, tt.missing, tt.duplicated)
			}
		})
	}
}

func TestQuantiles(t *testing.T) {
	l := &latencies{}
	for i := 100; i >= 1; i-- {
		l.add(time.Duration(i) * time.Millisecond)
	}
	if p50, p99 := l.quantile(0.5), l.quantile(0.99); p50 != 50*time.Millisecond || p99 != 99*time.Millisecond {
		t.Errorf("p50 %v, p99 %v; want 50ms, 99ms", p50, p99)
	}
	if q := (&latencies{}).quantile(0.5); q != 0 {
		t.Errorf("no samples: %v", q)
	}
}

var targetTests = []struct {
	url string
	ok  bool
}{
	{"http://127.0.0.1:8080", true},
	{"http://localhost:8080", true},
	{"http://[::1]:8080", true},
	{"http://10.0.0.1:8080", false},
	{"https://example.com", false},
	{"127.0.0.1:8080", false},
}

func TestTargetMustBeLoopback(t *testing.T) {
	for _, tt := range targetTests {
		_, err := parseOptions([]string{"-target", tt.url, "-token", "x"}, &bytes.Buffer{})
		if (err == nil) != tt.ok {
			t.Errorf("-target %s: err %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}

// TestSmoke runs the smoke mode against a freshly built apiws over the
// test PostgreSQL and Redis: every scenario, tiny, no timing judged.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs apiws")
	}
	var out, log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, []string{"-smoke"}, &out, &log); err != nil {
		t.Fatalf("smoke: %v\n%s\n%s", err, log.String(), out.String())
	}
	// The memory figure is left out: a handful of idle subscriptions moves
	// RSS by less than a page, so smoke mode often has nothing to report.
	for _, want := range []string{"pgbench single-row INSERT", "accepted → SENT", "statements, page of 50", "delivered"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report has no %q:\n%s", want, out.String())
		}
	}
}

// Quantiles of a histogram's buckets are interpolated within the bucket
// they fall in, as Prometheus' histogram_quantile does.
func TestHistogramQuantile(t *testing.T) {
	before := histogram{0.01: 10, 0.05: 10, 0.1: 10, math.Inf(1): 10}
	after := histogram{0.01: 60, 0.05: 109, 0.1: 110, math.Inf(1): 110}
	h := after.minus(before) // 50 under 10ms, 49 more under 50ms, 1 under 100ms
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 10 * time.Millisecond}, {0.25, 5 * time.Millisecond}, {0.99, 50 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := h.quantile(c.q); got.Round(time.Microsecond) != c.want {
			t.Errorf("q%.2f = %v, want %v", c.q, got, c.want)
		}
	}
	if got := (histogram{math.Inf(1): 0}).quantile(0.5); got != 0 {
		t.Errorf("an empty histogram's median is %v", got)
	}
}
