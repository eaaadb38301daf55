// Package billing sells apiws: plans and their limits, the monthly
// invoices and their PDFs, and payments through Stripe. No card number
// ever reaches it: the payment processor keeps the card, apiws its brand,
// last 4 digits and expiry.
package billing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Options configure a Service; zero fields take the defaults.
type Options struct {
	// DefaultPlan holds the limits of pln_default (from the APIWS_PLAN_*
	// settings); its prices are 0.
	DefaultPlan apiws.Plan
	// TaxRate is applied to every invoice (APIWS_TAX_RATE_PERCENT).
	TaxRate TaxRate
	// InvoicePrefix begins every invoice number (default APIWS).
	InvoicePrefix string
	// Issuer is who issues the invoices, one line each (name, address,
	// VAT id), as the PDFs show it.
	Issuer []string
	// PublicURL is where the invoices' PDFs are linked from ("": relative
	// links).
	PublicURL string
	// Stripe configures payments; without a key there are none.
	Stripe StripeOptions
	// MailQueued is called when a receipt waits in the mail outbox.
	MailQueued func()
	// Now is the clock (default time.Now).
	Now func() time.Time
	Log *slog.Logger
}

// Service implements apiws.BillingService.
type Service struct {
	db     *storage.DB
	opt    Options
	stripe *stripe.Client // nil: no payments
	now    func() time.Time
	log    *slog.Logger
	// plans caches each account's plan for planCacheFor: the limits are
	// checked on every request and send. SetAccountPlan and UpdatePlan
	// clear it here; other instances see a change within planCacheFor.
	mu    sync.Mutex
	plans map[string]cachedPlan
}

type cachedPlan struct {
	plan *apiws.Plan
	at   time.Time
}

// planCacheFor is how long an account's plan is reused.
const planCacheFor = time.Second

var _ apiws.BillingService = (*Service)(nil)

// New returns the service over db. The server calls WriteDefaultPlan
// before it serves.
func New(db *storage.DB, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if len(opt.Issuer) == 0 {
		opt.Issuer = []string{"apiws"}
	}
	if opt.InvoicePrefix == "" {
		opt.InvoicePrefix = "APIWS"
	}
	if opt.MailQueued == nil {
		opt.MailQueued = func() {}
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{db: db, opt: opt, log: opt.Log, plans: map[string]cachedPlan{}, stripe: newStripe(opt.Stripe)}
	s.now = func() time.Time { return opt.Now().UTC() }
	return s
}

// WriteDefaultPlan writes pln_default with the limits of the settings
// (Options.DefaultPlan), which every instance of a deployment shares.
func (s *Service) WriteDefaultPlan(ctx context.Context) error {
	d := s.opt.DefaultPlan
	if d.Name == "" {
		d.Name = "free"
	}
	if d.Currency == "" {
		d.Currency = "EUR"
	}
	d.Public = true
	if err := s.db.EnsureDefaultPlan(ctx, &d); err != nil {
		return err
	}
	s.forget("")
	return nil
}

// audit is the audit entry of an action.
func audit(accountID string, c *apiws.Caller, action, details string, at time.Time) *apiws.AuditEntry {
	return apiws.NewAuditEntry(accountID, c, action, details, at)
}
