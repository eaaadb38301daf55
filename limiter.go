package apiws

import (
	"context"
	"time"
)

// Limit is a rate: Rate events per second on average, with bursts of up to
// Burst.
type Limit struct {
	Rate  float64
	Burst int
}

// Limiter decides whether an event under a key may happen now (GCRA).
type Limiter interface {
	// Allow counts one event for key. When it is over the limit it returns
	// false and how long until one would pass; nothing is counted then.
	Allow(ctx context.Context, key string, l Limit) (ok bool, retryAfter time.Duration, err error)
}

// RateLimited returns the ERATELIMITED error for a refusal.
func RateLimited(retryAfter time.Duration) *Error {
	return &Error{Code: ERATELIMITED, Message: "too many requests; retry later", RetryAfter: retryAfter}
}

// CheckLimit counts one event under key against l: nil when it may happen,
// ERATELIMITED (with RetryAfter) when it must wait, and the limiter's own
// error when it could not decide, so each caller chooses whether an outage
// lets the event through.
func CheckLimit(ctx context.Context, lim Limiter, key string, l Limit) error {
	ok, wait, err := lim.Allow(ctx, key, l)
	switch {
	case err != nil:
		return err
	case !ok:
		return RateLimited(wait)
	}
	return nil
}
