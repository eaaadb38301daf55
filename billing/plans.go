package billing

import (
	"context"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"

	"github.com/apiws/apiws"
)

// Plans implements apiws.BillingService.
func (s *Service) Plans(ctx context.Context) ([]*apiws.Plan, error) {
	return s.db.Plans(ctx, apiws.CallerFrom(ctx).Kind == apiws.CredentialOperator)
}

// CreatePlan implements apiws.BillingService.
func (s *Service) CreatePlan(ctx context.Context, in apiws.PlanInput) (*apiws.Plan, error) {
	c, err := apiws.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	p, err := planFrom(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	p.ID, p.CreatedAt, p.UpdatedAt = apiws.NewID(apiws.PrefixPlan), now, now
	if err := s.db.CreatePlan(ctx, p, apiws.Month.Truncate(now), audit("", c, "plan.create", p.ID, now)); err != nil {
		return nil, err
	}
	return p, nil
}

// UpdatePlan implements apiws.BillingService.
func (s *Service) UpdatePlan(ctx context.Context, id string, in apiws.PlanInput) (*apiws.Plan, error) {
	c, err := apiws.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	if id == apiws.DefaultPlanID {
		return nil, apiws.FieldError(apiws.EINVALID, []string{"id"}, "pln_default follows the APIWS_PLAN_* settings; change them instead")
	}
	old, err := s.db.Plan(ctx, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such plan")
	} else if err != nil {
		return nil, err
	}
	p, err := planFrom(in)
	if err != nil {
		return nil, err
	}
	now := s.now()
	p.ID, p.CreatedAt, p.UpdatedAt = old.ID, old.CreatedAt, now
	if err := s.db.UpdatePlan(ctx, p, apiws.Month.Next(apiws.Month.Truncate(now)), audit("", c, "plan.update", p.ID, now)); err != nil {
		return nil, err
	}
	s.forget("")
	return p, nil
}

// SetAccountPlan implements apiws.BillingService.
func (s *Service) SetAccountPlan(ctx context.Context, accountID, planID string) (*apiws.Account, error) {
	c, err := apiws.RequireOperator(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if err := s.db.SetAccountPlan(ctx, accountID, planID, now, audit(accountID, c, "plan.assign", planID, now)); err != nil {
		return nil, err
	}
	s.forget(accountID)
	return s.db.Account(ctx, accountID)
}

// AccountPlan implements apiws.BillingService.
func (s *Service) AccountPlan(ctx context.Context, accountID string) (*apiws.Plan, error) {
	now := s.now()
	s.mu.Lock()
	cp, ok := s.plans[accountID]
	s.mu.Unlock()
	if ok && now.Sub(cp.at) >= 0 && now.Sub(cp.at) < planCacheFor {
		return cp.plan, nil
	}
	// The plan assigned at this very instant applies too.
	p, err := s.db.AccountPlan(ctx, accountID, now.Add(time.Microsecond))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.plans) > 100000 {
		clear(s.plans)
	}
	s.plans[accountID] = cachedPlan{plan: p, at: now}
	s.mu.Unlock()
	return p, nil
}

// forget drops the cached plan of an account ("": of every account).
func (s *Service) forget(accountID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if accountID == "" {
		clear(s.plans)
		return
	}
	delete(s.plans, accountID)
}

// planFrom checks a plan's input, reporting every problem at once.
func planFrom(in apiws.PlanInput) (*apiws.Plan, error) {
	var errs apiws.Errors
	bad := func(field, format string, args ...any) {
		errs = append(errs, apiws.FieldError(apiws.EINVALID, []string{"input", field}, format, args...))
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 || strings.ContainsFunc(name, unicode.IsControl) {
		bad("name", "a plan's name is one line of 1 to 100 characters")
	}
	if in.MonthlyMessages < 0 {
		bad("monthlyMessages", "monthlyMessages must not be negative")
	}
	if !rate(in.SendsPerSecond) || in.SendsPerSecond == 0 {
		bad("sendsPerSecond", "sendsPerSecond must be above 0 and at most %d", maxRate)
	}
	if !rate(in.RequestsPerSecond) {
		bad("requestsPerSecond", "requestsPerSecond must be from 0 (the server's default) to %d", maxRate)
	}
	if in.NumbersLimit < 0 {
		bad("numbersLimit", "numbersLimit must not be negative")
	}
	if in.MonthlyPriceMinor < 0 {
		bad("monthlyPriceMinor", "a price is a whole number of the currency's minor unit, 0 or more")
	}
	if in.OveragePriceMinor != nil && *in.OveragePriceMinor < 0 {
		bad("overagePriceMinor", "a price is a whole number of the currency's minor unit, 0 or more")
	}
	code, ok := Currency(in.Currency)
	if !ok {
		bad("currency", "%q is not an ISO 4217 currency code, e.g. EUR", in.Currency)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &apiws.Plan{Name: name, MonthlyMessages: in.MonthlyMessages, SendsPerSecond: in.SendsPerSecond,
		RequestsPerSecond: in.RequestsPerSecond, NumbersLimit: in.NumbersLimit, MonthlyPriceMinor: in.MonthlyPriceMinor,
		Currency: code, OveragePriceMinor: in.OveragePriceMinor, Public: in.Public}, nil
}

// maxRate bounds the rates a plan may set, per second.
const maxRate = 10000

func rate(r float64) bool { return !math.IsNaN(r) && r >= 0 && r <= maxRate }

// Currency returns the ISO 4217 code of s (any case), and whether it is
// one: checked against the list of codes of golang.org/x/text, which
// knows every currency in use and the historic ones.
func Currency(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 3 {
		return "", false
	}
	u, err := currency.ParseISO(s)
	if err != nil {
		return "", false
	}
	return u.String(), true
}
