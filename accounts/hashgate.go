package accounts

import (
	"context"
	"time"

	"github.com/apiws/apiws"
)

// hashGate bounds how many password hashes run at once. Each argon2id
// computation takes argonMemory and a core for tens of milliseconds, so
// unbounded concurrent logins would be an unbounded heap; past the bound,
// a check waits its turn, and is refused when the wait is too long.
type hashGate struct {
	slots chan struct{}
	wait  time.Duration
}

func newHashGate(n int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, n), wait: wait}
}

// errHashBusy is the refusal of a password check that waited too long: the
// server is busy hashing others' passwords, and a retry soon may pass.
func errHashBusy() *apiws.Error {
	return &apiws.Error{Code: apiws.ERATELIMITED, Message: "too many password checks at once; retry in a moment", RetryAfter: time.Second}
}

// do runs f once a slot is free: ERATELIMITED when none frees up within the
// gate's wait, ctx's error when ctx ends first.
func (g *hashGate) do(ctx context.Context, f func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		t := time.NewTimer(g.wait)
		defer t.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-t.C:
			return errHashBusy()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-g.slots }()
	f()
	return nil
}

// hash returns the argon2id hash of password, in its turn.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	var h string
	err := s.hashes.do(ctx, func() { h = hashPassword(password) })
	return h, err
}

// check reports whether password matches hash, in its turn.
func (s *Service) check(ctx context.Context, hash, password string) (bool, error) {
	var ok bool
	err := s.hashes.do(ctx, func() { ok = checkPassword(hash, password) })
	return ok, err
}
