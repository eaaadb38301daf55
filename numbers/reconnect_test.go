package numbers

import (
	"testing"
	"time"
)

func TestRetryDelay(t *testing.T) {
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{0, 0.5, retryBase},
		{1, 0.5, 2 * retryBase},
		{2, 0.5, 4 * retryBase},
		{30, 0.5, retryMax},
		{0, 0, time.Duration(float64(retryBase) * (1 - retryJitter))},
		{30, 0.999999, time.Duration(float64(retryMax) * (1 + retryJitter*0.999998))},
	}
	for _, tt := range tests {
		if got := retryDelay(tt.attempt, tt.r); got < tt.want-time.Millisecond || got > tt.want+time.Millisecond {
			t.Errorf("retryDelay(%d, %v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
	}
}
