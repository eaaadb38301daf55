package webhooks

import "time"

// retryDelays are the waits before each retry of a failed delivery,
// counted from the end of the failed attempt: about 28 hours in all.
var retryDelays = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxAttempts is how many attempts a delivery gets before it is FAILED.
var MaxAttempts = len(retryDelays) + 1

// NextAttempt returns when a delivery that has failed attempts times,
// the last ending at end, is tried again, with jitter (a number in
// [0, 1)) spreading the delay by ±10 %; ok is false when it has had its
// last attempt.
func NextAttempt(attempts int, end time.Time, jitter float64) (next time.Time, ok bool) {
	if attempts < 1 || attempts > len(retryDelays) {
		return time.Time{}, false
	}
	d := retryDelays[attempts-1]
	spread := time.Duration(float64(d) * 0.2 * (jitter - 0.5))
	return end.Add(d + spread), true
}
