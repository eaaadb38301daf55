package webhooks

import (
	"testing"
	"time"
)

var scheduleTests = []struct {
	attempts int
	delay    time.Duration
	ok       bool
}{
	{1, 5 * time.Second, true},
	{2, 5 * time.Minute, true},
	{3, 30 * time.Minute, true},
	{4, 2 * time.Hour, true},
	{5, 5 * time.Hour, true},
	{6, 10 * time.Hour, true},
	{7, 10 * time.Hour, true},
	{8, 0, false},
	{0, 0, false},
}

// Each retry waits its delay from the end of the failed attempt, within
// ±10 %; after the eighth attempt there is none.
func TestNextAttempt(t *testing.T) {
	end := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tt := range scheduleTests {
		for _, jitter := range []float64{0, 0.5, 0.999999} {
			next, ok := NextAttempt(tt.attempts, end, jitter)
			if ok != tt.ok {
				t.Fatalf("NextAttempt(%d) ok = %v", tt.attempts, ok)
			}
			if !ok {
				continue
			}
			got := next.Sub(end)
			lo, hi := tt.delay-tt.delay/10, tt.delay+tt.delay/10
			if got < lo || got > hi {
				t.Errorf("NextAttempt(%d, jitter %v) waits %v, want %v ±10%%", tt.attempts, jitter, got, tt.delay)
			}
			if jitter == 0.5 && got != tt.delay {
				t.Errorf("NextAttempt(%d) without jitter waits %v, want %v", tt.attempts, got, tt.delay)
			}
		}
	}
	var total time.Duration
	for _, d := range retryDelays {
		total += d
	}
	if total < 27*time.Hour || total > 29*time.Hour || MaxAttempts != 8 {
		t.Fatalf("schedule spans %v over %d attempts; want about 28 h over 8", total, MaxAttempts)
	}
}
