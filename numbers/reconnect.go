package numbers

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

// Reconnect backoff: the first retry comes after retryBase, each next one
// after twice as long, up to retryMax, each spread by ±retryJitter so that
// numbers that failed together do not retry together.
const (
	retryBase   = 2 * time.Second
	retryMax    = 5 * time.Minute
	retryJitter = 0.2
)

// retryDelay is the wait before retry number attempt (0 for the first),
// with r in [0,1) drawing the jitter.
func retryDelay(attempt int, r float64) time.Duration {
	d := retryBase
	for i := 0; i < attempt && d < retryMax; i++ {
		d *= 2
	}
	d = min(d, retryMax)
	return time.Duration(float64(d) * (1 - retryJitter + 2*retryJitter*r))
}

// SetClock replaces the service's clock, for tests: now tells the time,
// after waits (as time.After).
func (s *Service) SetClock(now func() time.Time, after func(time.Duration) <-chan time.Time) {
	s.now, s.after = now, after
}

// retryConnect keeps trying to connect a number whose connection failed
// (a network blip at start, after a lease moved), with backoff, until it
// connects, or is removed, logged out, disconnected by request, or owned
// elsewhere. One loop per number runs at a time.
func (s *Service) retryConnect(numberID string) {
	s.startRetry(numberID, func(ctx context.Context) bool { return true }, 1)
}

// reconnectAt connects a banned number again when its temporary ban ends,
// retrying with backoff as retryConnect does.
func (s *Service) reconnectAt(numberID string, at time.Time) {
	s.startRetry(numberID, func(ctx context.Context) bool {
		return s.sleep(ctx, at.Sub(s.now()))
	}, 0)
}

// startRetry runs the retry loop of a number, unless one runs: first waits
// for its turn (false: give up), then each attempt from firstAttempt on
// waits its backoff (attempt 0 none).
func (s *Service) startRetry(numberID string, first func(ctx context.Context) bool, firstAttempt int) {
	s.mu.Lock()
	if s.closed || s.retries[numberID] != nil {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	r := &retry{cancel: cancel}
	s.retries[numberID] = r
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer s.forgetRetry(numberID, r)
		if !first(ctx) {
			return
		}
		for attempt := firstAttempt; ; attempt++ {
			if attempt > 0 && !s.sleep(ctx, retryDelay(attempt-1, rand.Float64())) {
				return
			}
			if done := s.attempt(ctx, numberID); done {
				return
			}
		}
	}()
}

// retry is a number's retry loop.
type retry struct{ cancel context.CancelFunc }

func (s *Service) forgetRetry(numberID string, r *retry) {
	s.mu.Lock()
	if s.retries[numberID] == r {
		delete(s.retries, numberID)
	}
	s.mu.Unlock()
	r.cancel()
}

// stopRetry ends the number's retry loop, if one runs.
func (s *Service) stopRetry(numberID string) {
	s.mu.Lock()
	r := s.retries[numberID]
	delete(s.retries, numberID)
	s.mu.Unlock()
	if r != nil {
		r.cancel()
	}
}

// attempt connects the number once more if it still should be; done is
// true when there is nothing more to try.
func (s *Service) attempt(ctx context.Context, numberID string) (done bool) {
	if !apiws.Owns(s.owner, numberID) {
		return true // its new owner connects it
	}
	n, err := s.db.NumberByID(ctx, numberID)
	if err != nil {
		return apiws.ErrorCodeOf(err) == apiws.ENOTFOUND || ctx.Err() != nil
	}
	switch n.Status {
	case apiws.NumberDisconnected, apiws.NumberBanned:
	default:
		return true // connected, or pairing, or logged out meanwhile
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return true
	}
	err = s.connectOnce(ctx, n, conn)
	if err != nil {
		s.log.Warn("reconnect number", "number", numberID, "err", err)
	}
	return err == nil || errors.Is(err, whatsapp.ErrNotPaired)
}

// sleep waits d on the service's clock; false if ctx ended first.
func (s *Service) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-s.after(d):
		return true
	case <-ctx.Done():
		return false
	}
}
