package apiws

import (
	"context"
	"time"
)

// Id prefixes of billing.
const (
	PrefixPlan    = "pln"
	PrefixInvoice = "inv"
)

// DefaultPlanID is the plan of every account that was never given another:
// its limits come from the APIWS_PLAN_* settings and it costs nothing.
const DefaultPlanID = "pln_default"

// Plan is what an account may use and what it pays for it. Its limits
// apply at once to every account on it; its prices bill from the next
// period (see PlanTerms).
type Plan struct {
	ID              string `bun:"id,pk"`
	Name            string `bun:"name,notnull"`
	MonthlyMessages int    `bun:"monthly_messages,notnull"`
	// SendsPerSecond paces each number of the account.
	SendsPerSecond float64 `bun:"sends_per_second,notnull"`
	// RequestsPerSecond is the API request rate per key or session; 0 leaves
	// the server's APIWS_RATE_LIMIT_PER_SECOND in force.
	RequestsPerSecond float64 `bun:"requests_per_second,notnull"`
	// NumbersLimit is how many WhatsApp numbers the account may hold.
	NumbersLimit int `bun:"numbers_limit,notnull"`
	// MonthlyPriceMinor is the price of a month in the currency's minor unit.
	MonthlyPriceMinor int `bun:"monthly_price_minor,notnull"`
	// Currency is an ISO 4217 code, e.g. EUR.
	Currency string `bun:"currency,notnull"`
	// OveragePriceMinor is the price of each message accepted beyond
	// MonthlyMessages; nil: such sends are refused (QUOTA_EXCEEDED).
	OveragePriceMinor *int      `bun:"overage_price_minor"`
	Public            bool      `bun:"public,notnull"`
	CreatedAt         time.Time `bun:"created_at,notnull"`
	UpdatedAt         time.Time `bun:"updated_at,notnull"`
}

// AllowsOverage reports whether sends beyond the monthly messages are
// billed rather than refused.
func (p *Plan) AllowsOverage() bool { return p.OveragePriceMinor != nil }

// PlanTerms are what a plan bills from a period on: its prices and the
// messages its price includes, as they stood when that period began.
type PlanTerms struct {
	PlanID            string    `bun:"plan_id,pk"`
	EffectiveFrom     time.Time `bun:"effective_from,pk"`
	Name              string    `bun:"name,notnull"`
	MonthlyMessages   int       `bun:"monthly_messages,notnull"`
	MonthlyPriceMinor int       `bun:"monthly_price_minor,notnull"`
	Currency          string    `bun:"currency,notnull"`
	OveragePriceMinor *int      `bun:"overage_price_minor"`
}

// Terms returns the billing terms of p effective from a time.
func (p *Plan) Terms(from time.Time) *PlanTerms {
	return &PlanTerms{PlanID: p.ID, EffectiveFrom: from, Name: p.Name, MonthlyMessages: p.MonthlyMessages,
		MonthlyPriceMinor: p.MonthlyPriceMinor, Currency: p.Currency, OveragePriceMinor: p.OveragePriceMinor}
}

// PlanInput is the input of BillingService.CreatePlan and UpdatePlan.
type PlanInput struct {
	Name              string
	MonthlyMessages   int
	SendsPerSecond    float64
	RequestsPerSecond float64
	NumbersLimit      int
	MonthlyPriceMinor int
	Currency          string
	OveragePriceMinor *int
	Public            bool
}

// BillingService manages plans, invoices and payments. Operator methods
// answer EFORBIDDEN to anyone else; bad input is reported as field errors
// and changes nothing.
type BillingService interface {
	// Plans lists the public plans, and every plan for an operator, by
	// name.
	Plans(ctx context.Context) ([]*Plan, error)
	// CreatePlan makes a plan (operator only). A name already used is
	// ETAKEN on ["input", "name"].
	CreatePlan(ctx context.Context, in PlanInput) (*Plan, error)
	// UpdatePlan changes a plan (operator only): its limits at once, its
	// prices from the next period. pln_default follows the settings and
	// cannot be changed here (EINVALID).
	UpdatePlan(ctx context.Context, id string, in PlanInput) (*Plan, error)
	// SetAccountPlan puts an account on a plan (operator only): its limits
	// apply at once, its prices from the next period.
	SetAccountPlan(ctx context.Context, accountID, planID string) (*Account, error)
	// AccountPlan returns the plan whose limits apply to the account now,
	// for the services that enforce them (no access check).
	AccountPlan(ctx context.Context, accountID string) (*Plan, error)
	// Invoices pages the account's invoices, newest first (RequireRead).
	Invoices(ctx context.Context, accountID string, page Page) (List[*Invoice], error)
	// Invoice returns one invoice of the caller's account (ScopeRead), or
	// any for an operator; ENOTFOUND otherwise.
	Invoice(ctx context.Context, id string) (*Invoice, error)
	// PDFURL is where the invoice's PDF is served.
	PDFURL(inv *Invoice) string
	// InvoicePDF renders an invoice Invoice would return as a PDF.
	InvoicePDF(ctx context.Context, id string) ([]byte, error)
	// PaymentMethod returns the account's saved card, nil without one
	// (RequireRead).
	PaymentMethod(ctx context.Context, accountID string) (*PaymentMethod, error)
	// StartPaymentMethodSetup returns the URL of the payment processor's
	// page where the calling dashboard session's account saves a card.
	// Without a payment processor it answers PaymentsUnavailable.
	StartPaymentMethodSetup(ctx context.Context) (string, error)
	// PayInvoice returns the URL of the payment processor's page that pays
	// one of the calling dashboard session's OPEN invoices: another
	// account's is ENOTFOUND, a PAID or VOID one EINVALID (both on
	// ["id"]). Without a payment processor it answers PaymentsUnavailable.
	PayInvoice(ctx context.Context, id string) (string, error)
}

// PaymentMethod is an account's saved card, as far as apiws knows it: the
// card itself stays with the payment processor.
type PaymentMethod struct {
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
}

// PaymentsUnavailable is the answer to a payment request when no payment
// processor is configured: a userError UNAVAILABLE (its empty, non-nil
// Field marks it as one, unlike the request error UNAVAILABLE of a
// database outage).
func PaymentsUnavailable() *Error {
	return &Error{Code: EUNAVAILABLE, Field: []string{}, Message: "payments are not available on this server"}
}

// IsPaymentsUnavailable reports whether e is PaymentsUnavailable's error.
func (e *Error) IsPaymentsUnavailable() bool {
	return e.Code == EUNAVAILABLE && e.Field != nil
}

// Invoice is a financial record: one account's bill for one month. It
// names no person: AccountRef is a pseudonym kept when the account is
// purged (AccountID becomes nil). Once issued it never changes but its
// Status (and PaidAt).
type Invoice struct {
	ID         string  `bun:"id,pk"`
	AccountID  *string `bun:"account_id"`
	AccountRef string  `bun:"account_ref,notnull"`
	// Number runs PREFIX-YYYY-NNNNNN without gaps; YYYY is the period's year.
	Number      string         `bun:"number,nullzero"`
	PeriodStart time.Time      `bun:"period_start,nullzero"`
	PeriodEnd   time.Time      `bun:"period_end,nullzero"` // exclusive
	IssuedAt    time.Time      `bun:"issued_at,notnull"`
	DueAt       time.Time      `bun:"due_at,nullzero"`
	Status      InvoiceStatus  `bun:"status,notnull"`
	Currency    string         `bun:"currency,notnull"`
	Lines       []*InvoiceLine `bun:"lines,type:text,notnull"`
	// SubtotalMinor is the sum of the lines, TaxMinor the subtotal times
	// TaxRate (percent) rounded half up, Amount their sum: the total. All
	// in the currency's minor unit.
	SubtotalMinor int        `bun:"subtotal_minor,notnull"`
	TaxRate       string     `bun:"tax_rate,notnull"`
	TaxMinor      int        `bun:"tax_minor,notnull"`
	Amount        int        `bun:"amount,notnull"`
	PaidAt        *time.Time `bun:"paid_at"`
}

// InvoiceStatus is where an invoice stands.
type InvoiceStatus string

// Invoice statuses.
const (
	InvoiceOpen InvoiceStatus = "OPEN"
	InvoicePaid InvoiceStatus = "PAID"
	InvoiceVoid InvoiceStatus = "VOID"
)

// InvoiceLine is one line of an invoice.
type InvoiceLine struct {
	Description    string `json:"description"`
	Quantity       int    `json:"quantity"`
	UnitPriceMinor int    `json:"unitPriceMinor"`
	AmountMinor    int    `json:"amountMinor"`
}
