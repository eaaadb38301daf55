// Package poll waits, in tests, for state that other goroutines or
// processes change: it looks again every few milliseconds until the state
// holds or a deadline passes, so no test depends on how fast a busy
// machine runs.
package poll

import (
	"testing"
	"time"
)

// Until waits until ok holds, and fails tb naming what if it does not
// within the time given.
func Until(tb testing.TB, within time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %v: %s", within, what)
		}
		<-tick.C
	}
}
