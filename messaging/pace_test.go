package messaging

import (
	"testing"
	"time"
)

func TestJitteredPace(t *testing.T) {
	interval := 200 * time.Millisecond
	tests := []struct {
		r    float64
		want time.Duration
	}{
		{0, 150 * time.Millisecond},
		{0.5, 200 * time.Millisecond},
		{0.999999, 250 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := jittered(interval, tt.r); got < tt.want-time.Microsecond || got > tt.want+time.Microsecond {
			t.Errorf("jittered(%v, %v) = %v, want %v", interval, tt.r, got, tt.want)
		}
	}
	// Drawn gaps differ and stay within ±25 %.
	seen := map[time.Duration]bool{}
	for i := range 100 {
		d := jittered(interval, float64(i)/100)
		if d < 150*time.Millisecond || d > 250*time.Millisecond {
			t.Fatalf("gap %v outside ±25 %%", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Errorf("only %d different gaps", len(seen))
	}
}
