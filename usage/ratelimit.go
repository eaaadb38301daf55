package usage

import (
	"context"
	"math"

	"github.com/apiws/apiws"
)

// AllowRequest counts one GraphQL operation of the caller against its rate
// limits: its API key's (or dashboard session's) and its account's. A
// refusal is ERATELIMITED with the time until a retry can pass. Callers
// without credentials (signUp, logIn, the policy) are limited by IP, as
// their mutations are costly (argon2). An account whose plan sets a
// request rate is limited at that rate rather than the server's. Operators
// are not limited. If the limiter fails, the request is let through: an
// outage of Redis must not stop the API.
func (s *Service) AllowRequest(ctx context.Context, c *apiws.Caller) error {
	if c == nil || c.Kind == apiws.CredentialOperator {
		return nil
	}
	rate := s.rate
	if c.AccountID != "" {
		p, err := s.plan(ctx, c.AccountID)
		if err != nil {
			s.log.Warn("read the account's plan", "err", err)
		} else if p.RequestsPerSecond > 0 {
			rate = p.RequestsPerSecond
		}
	}
	if rate <= 0 {
		return nil
	}
	burst := max(1, int(math.Ceil(rate)))
	type check struct {
		key string
		lim apiws.Limit
	}
	var checks []check
	if c.AccountID == "" {
		if c.IP == "" {
			return nil
		}
		checks = []check{{"req:ip:" + apiws.ClientNetwork(c.IP), apiws.Limit{Rate: rate, Burst: burst}}}
	} else {
		cred := c.APIKeyID
		if cred == "" {
			cred = c.SessionID
		}
		checks = []check{
			{"req:cred:" + cred, apiws.Limit{Rate: rate, Burst: burst}},
			{"req:acc:" + c.AccountID, apiws.Limit{Rate: rate * AccountRateFactor, Burst: burst * AccountRateFactor}},
		}
	}
	for _, ch := range checks {
		err := apiws.CheckLimit(ctx, s.lim, ch.key, ch.lim)
		if err != nil && apiws.ErrorCodeOf(err) != apiws.ERATELIMITED {
			s.log.Warn("rate limiter unavailable", "err", err)
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// AddressRateFactor is how many times the per-key request rate one client
// address may make in all, whatever its credentials: several keys (or
// people behind one NAT) may share an address.
const AddressRateFactor = 5

// AllowAddress counts one HTTP request from a client address, before its
// credentials are checked or its body is read. A refusal is ERATELIMITED;
// a failing limiter lets the request through, as in AllowRequest.
func (s *Service) AllowAddress(ctx context.Context, ip string) error {
	if s.rate <= 0 || ip == "" {
		return nil
	}
	rate := s.rate * AddressRateFactor
	err := apiws.CheckLimit(ctx, s.lim, "req:addr:"+apiws.ClientNetwork(ip), apiws.Limit{Rate: rate, Burst: max(1, int(math.Ceil(rate)))})
	if err != nil && apiws.ErrorCodeOf(err) != apiws.ERATELIMITED {
		s.log.Warn("rate limiter unavailable", "err", err)
		return nil
	}
	return err
}
