package main

import (
	"context"
	"log/slog"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/storage"
)

// openBilling makes the billing service, which writes pln_default from
// the APIWS_PLAN_* settings.
func openBilling(ctx context.Context, cfg *Config, db *storage.DB, log *slog.Logger) (*billing.Service, error) {
	return billing.New(ctx, db, billing.Options{
		DefaultPlan: apiws.Plan{Name: "free", MonthlyMessages: cfg.PlanMonthlyMessages, SendsPerSecond: cfg.PlanSendsPerSecond,
			RequestsPerSecond: cfg.RateLimitPerSecond, NumbersLimit: cfg.PlanNumbers, Currency: "EUR"},
		Log: log,
	})
}
