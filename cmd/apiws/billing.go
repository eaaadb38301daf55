package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/storage"
)

// billingConfig is the configuration of billing.
type billingConfig struct {
	// TaxRate is APIWS_TAX_RATE_PERCENT (default 0).
	TaxRate billing.TaxRate
	// InvoicePrefix is APIWS_INVOICE_PREFIX (default APIWS).
	InvoicePrefix string
	// Issuer is APIWS_INVOICE_ISSUER: the issuer's lines on the invoices
	// (name, address, VAT id), separated by newlines or "\n".
	Issuer []string
	// Stripe is APIWS_STRIPE_SECRET_KEY, APIWS_STRIPE_WEBHOOK_SECRET and
	// APIWS_STRIPE_API_URL.
	Stripe billing.StripeOptions
}

// invoicePrefix is what an invoice number may begin with.
var invoicePrefix = regexp.MustCompile(`^[A-Z0-9]{1,16}$`)

// loadBillingConfig reads the billing settings, adding what is wrong with
// them to errs.
func loadBillingConfig(get func(key, def string) string, errs []error) (billingConfig, []error) {
	var c billingConfig
	var err error
	if c.TaxRate, err = billing.ParseTaxRate(get("APIWS_TAX_RATE_PERCENT", "0")); err != nil {
		errs = append(errs, fmt.Errorf("APIWS_TAX_RATE_PERCENT: %w", err))
	}
	c.InvoicePrefix = get("APIWS_INVOICE_PREFIX", "APIWS")
	if !invoicePrefix.MatchString(c.InvoicePrefix) {
		errs = append(errs, fmt.Errorf("APIWS_INVOICE_PREFIX must be 1 to 16 capital letters or digits, not %q", c.InvoicePrefix))
	}
	for _, l := range strings.Split(strings.ReplaceAll(get("APIWS_INVOICE_ISSUER", "apiws"), `\n`, "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			c.Issuer = append(c.Issuer, l)
		}
	}
	c.Stripe = billing.StripeOptions{SecretKey: get("APIWS_STRIPE_SECRET_KEY", ""), WebhookSecret: get("APIWS_STRIPE_WEBHOOK_SECRET", ""),
		APIURL: get("APIWS_STRIPE_API_URL", "")}
	if c.Stripe.SecretKey != "" && get("APIWS_PUBLIC_URL", "") == "" {
		// Stripe's pages send the customer back to the dashboard.
		errs = append(errs, errors.New("APIWS_STRIPE_SECRET_KEY needs APIWS_PUBLIC_URL, where Stripe sends customers back"))
	}
	return c, errs
}

// newBilling makes the billing service; mailQueued (may be nil) is told
// of receipts waiting in the outbox.
func newBilling(cfg *Config, db *storage.DB, mailQueued func(), log *slog.Logger) *billing.Service {
	return billing.New(db, billing.Options{
		DefaultPlan: apiws.Plan{Name: "free", MonthlyMessages: cfg.PlanMonthlyMessages, SendsPerSecond: cfg.PlanSendsPerSecond,
			RequestsPerSecond: cfg.RateLimitPerSecond, NumbersLimit: cfg.PlanNumbers, Currency: "EUR"},
		TaxRate:       cfg.Billing.TaxRate,
		InvoicePrefix: cfg.Billing.InvoicePrefix,
		Issuer:        cfg.Billing.Issuer,
		Stripe:        cfg.Billing.Stripe,
		MailQueued:    mailQueued,
		PublicURL:     cfg.PublicURL,
		Log:           log,
	})
}

// openBilling makes the billing service of the server, which writes
// pln_default from the APIWS_PLAN_* settings.
func openBilling(ctx context.Context, cfg *Config, db *storage.DB, mailQueued func(), log *slog.Logger) (*billing.Service, error) {
	svc := newBilling(cfg, db, mailQueued, log)
	return svc, svc.WriteDefaultPlan(ctx)
}

// billingCommand runs `billing close [--period YYYY-MM] [--as-of TIME]`:
// it issues the month's invoices as if at --as-of (default now; the
// period defaults to the month before it) and prints their numbers.
func billingCommand(ctx context.Context, cfg *Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "close" {
		return errors.New("usage: apiws billing close [--period YYYY-MM] [--as-of TIME]")
	}
	fs := flag.NewFlagSet("apiws billing close", flag.ContinueOnError)
	fs.SetOutput(stderr)
	period := fs.String("period", "", "the month to close, YYYY-MM (default: the month before --as-of)")
	asOf := fs.String("as-of", "", "close as if at this RFC 3339 time, the invoices' issue time (default now)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	at, err := asOfTime(*asOf, "2027-01-01T00:05:00Z")
	if err != nil {
		return err
	}
	start := apiws.Month.Truncate(at).AddDate(0, -1, 0)
	if *period != "" {
		t, err := time.Parse("2006-01", *period)
		if err != nil {
			return fmt.Errorf("--period must be a month, YYYY-MM, e.g. 2026-11: %w", err)
		}
		start = t.UTC()
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// The CLI leaves pln_default as the server wrote it: its own
	// environment may lack the plan settings.
	issued, err := newBilling(cfg, db, nil, log).Close(ctx, start, at)
	for _, inv := range issued {
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%d\n", inv.Number, *inv.AccountID, inv.Currency, inv.Amount)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "billing close %s as of %s: %d invoices issued\n", start.Format("2006-01"), at.Format(time.RFC3339), len(issued))
	return nil
}
