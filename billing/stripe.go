package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// StripeOptions configure payments through Stripe.
type StripeOptions struct {
	// SecretKey is the API key (APIWS_STRIPE_SECRET_KEY); "": no payments.
	SecretKey string
	// WebhookSecret checks the signature of Stripe's webhook calls
	// (APIWS_STRIPE_WEBHOOK_SECRET); "": every call is refused.
	WebhookSecret string
	// APIURL is Stripe's API (APIWS_STRIPE_API_URL); "": Stripe itself.
	// Tests point it at stripe-mock.
	APIURL string
}

// WebhookTolerance is how old a signed webhook call may be.
const WebhookTolerance = 5 * time.Minute

// newStripe returns the Stripe client of o, nil without a key.
func newStripe(o StripeOptions) *stripe.Client {
	if o.SecretKey == "" {
		return nil
	}
	cfg := &stripe.BackendConfig{LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if o.APIURL != "" {
		cfg.URL = stripe.String(strings.TrimSuffix(o.APIURL, "/"))
	}
	b := stripe.GetBackendWithConfig(stripe.APIBackend, cfg)
	return stripe.NewClient(o.SecretKey, stripe.WithBackends(&stripe.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))
}

// returnURL is the dashboard's billing page, where Stripe sends the
// customer back.
func (s *Service) returnURL(outcome string) string {
	return s.opt.PublicURL + "/?billing=" + outcome + "#/billing"
}

// PaymentMethod implements apiws.BillingService.
func (s *Service) PaymentMethod(ctx context.Context, accountID string) (*apiws.PaymentMethod, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	return s.db.PaymentMethod(ctx, accountID)
}

// customer returns the account's Stripe customer, made on first use. It
// carries only the account's id: the customer enters the rest on Stripe's
// page.
func (s *Service) customer(ctx context.Context, accountID string) (string, error) {
	id, err := s.db.PaymentCustomer(ctx, accountID)
	if err != nil || id != "" {
		return id, err
	}
	params := &stripe.CustomerCreateParams{Metadata: map[string]string{"apiws_account": accountID}}
	params.SetIdempotencyKey("apiws-customer-" + accountID)
	c, err := s.stripe.V1Customers.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("create a stripe customer: %w", err)
	}
	return s.db.SetPaymentCustomer(ctx, accountID, c.ID, s.now())
}

// StartPaymentMethodSetup implements apiws.BillingService: a Checkout
// session in setup mode whose client_reference_id is the account.
func (s *Service) StartPaymentMethodSetup(ctx context.Context) (string, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return "", err
	}
	if s.stripe == nil {
		return "", apiws.PaymentsUnavailable()
	}
	customer, err := s.customer(ctx, c.AccountID)
	if err != nil {
		return "", err
	}
	sess, err := s.stripe.V1CheckoutSessions.Create(ctx, &stripe.CheckoutSessionCreateParams{
		Mode:               stripe.String(string(stripe.CheckoutSessionModeSetup)),
		Customer:           stripe.String(customer),
		ClientReferenceID:  stripe.String(c.AccountID),
		PaymentMethodTypes: stripe.StringSlice([]string{"card"}),
		SuccessURL:         stripe.String(s.returnURL("card-saved")),
		CancelURL:          stripe.String(s.returnURL("cancelled")),
	})
	if err != nil {
		return "", fmt.Errorf("create a stripe setup session: %w", err)
	}
	return sess.URL, nil
}

// PayInvoice implements apiws.BillingService: a Checkout session in
// payment mode for the invoice's total, whose client_reference_id is the
// invoice.
func (s *Service) PayInvoice(ctx context.Context, id string) (string, error) {
	c, err := apiws.RequireSession(ctx)
	if err != nil {
		return "", err
	}
	inv, err := s.Invoice(ctx, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return "", apiws.FieldError(apiws.ENOTFOUND, []string{"id"}, "no such invoice")
	} else if err != nil {
		return "", err
	}
	if inv.Status != apiws.InvoiceOpen {
		return "", apiws.FieldError(apiws.EINVALID, []string{"id"}, "invoice %s is %s: only an OPEN invoice can be paid", inv.Number, inv.Status)
	}
	if s.stripe == nil {
		return "", apiws.PaymentsUnavailable()
	}
	customer, err := s.customer(ctx, c.AccountID)
	if err != nil {
		return "", err
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		Customer:          stripe.String(customer),
		ClientReferenceID: stripe.String(inv.ID),
		Metadata:          map[string]string{"apiws_invoice": inv.ID, "apiws_invoice_number": inv.Number},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(strings.ToLower(inv.Currency)),
				UnitAmount:  stripe.Int64(int64(inv.Amount)),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String("Invoice " + inv.Number)},
			},
		}},
		SuccessURL: stripe.String(s.returnURL("paid")),
		CancelURL:  stripe.String(s.returnURL("cancelled")),
	}
	// Paying again (another tab, a second click) within Stripe's day of
	// idempotency opens the same session: one invoice, one charge.
	params.SetIdempotencyKey("apiws-pay-" + inv.ID)
	sess, err := s.stripe.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("create a stripe payment session: %w", err)
	}
	return sess.URL, nil
}

// checkoutSession is what apiws reads of a completed Checkout session.
type checkoutSession struct {
	Mode              string          `json:"mode"`
	PaymentStatus     string          `json:"payment_status"`
	ClientReferenceID string          `json:"client_reference_id"`
	Customer          json.RawMessage `json:"customer"`
	SetupIntent       json.RawMessage `json:"setup_intent"`
}

// objectID reads an expandable field: an id, or an object with one.
func objectID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &obj)
	return obj.ID
}

// HandleStripeWebhook handles one call of Stripe's webhook: payload is
// the body, signature the Stripe-Signature header. A bad signature, a
// signature over 5 minutes old and a body that is not an event are
// EINVALID, with nothing changed. checkout.session.completed marks its
// invoice PAID (payment mode, paid; async_payment_succeeded too, for
// delayed methods) or saves the card's details (setup mode); an unknown invoice or account changes nothing, and an event seen
// before changes nothing again. Other events are ignored. Events are
// accepted whatever their API version.
func (s *Service) HandleStripeWebhook(ctx context.Context, payload []byte, signature string) error {
	if s.opt.Stripe.WebhookSecret == "" {
		return apiws.Errorf(apiws.EINVALID, "no webhook secret is configured")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, s.opt.Stripe.WebhookSecret,
		webhook.ConstructEventOptions{Tolerance: WebhookTolerance, IgnoreAPIVersionMismatch: true})
	if err != nil {
		return apiws.Errorf(apiws.EINVALID, "not a signed Stripe event: %v", err)
	}
	// A payment by a delayed method (a bank debit) completes the session
	// unpaid, and succeeds later.
	if ev.Type != stripe.EventTypeCheckoutSessionCompleted && ev.Type != stripe.EventTypeCheckoutSessionAsyncPaymentSucceeded {
		return nil
	}
	var sess checkoutSession
	if ev.Data == nil || json.Unmarshal(ev.Data.Raw, &sess) != nil {
		return apiws.Errorf(apiws.EINVALID, "a checkout.session.completed event without a session")
	}
	switch {
	case sess.Mode == "payment" && sess.PaymentStatus == "paid":
		return s.invoicePaid(ctx, ev, sess.ClientReferenceID)
	case sess.Mode == "setup":
		return s.cardSaved(ctx, ev, sess)
	}
	return nil
}

// invoicePaid marks the invoice PAID, audited, and mails a receipt.
func (s *Service) invoicePaid(ctx context.Context, ev stripe.Event, invoiceID string) error {
	at := time.Unix(ev.Created, 0).UTC()
	if ev.Created == 0 {
		at = s.now()
	}
	changed, err := s.db.MarkInvoicePaid(ctx, storage.InvoicePaid{
		EventID: ev.ID, EventType: string(ev.Type), InvoiceID: invoiceID, At: at,
		Audit: func(inv *apiws.Invoice) *apiws.AuditEntry {
			return audit(deref(inv.AccountID), nil, "invoice.paid", inv.Number+" (stripe event "+ev.ID+")", s.now())
		},
		Receipt: func(inv *apiws.Invoice, email string) *storage.OutgoingMail {
			return receipt(inv, email, s.now())
		},
	})
	if changed {
		s.opt.MailQueued()
	}
	return err
}

// cardSaved reads the card of the session's SetupIntent from Stripe and
// keeps its brand, last 4 digits and expiry.
func (s *Service) cardSaved(ctx context.Context, ev stripe.Event, sess checkoutSession) error {
	if s.stripe == nil {
		return fmt.Errorf("a setup session completed, but no stripe key is configured to read its card")
	}
	siID := objectID(sess.SetupIntent)
	if siID == "" || sess.ClientReferenceID == "" {
		return nil
	}
	si, err := s.stripe.V1SetupIntents.Retrieve(ctx, siID, &stripe.SetupIntentRetrieveParams{Expand: stripe.StringSlice([]string{"payment_method"})})
	if err != nil {
		return fmt.Errorf("read setup intent %s: %w", siID, err)
	}
	if si.PaymentMethod == nil || si.PaymentMethod.Card == nil {
		return nil
	}
	card := si.PaymentMethod.Card
	customer := objectID(sess.Customer)
	if customer == "" && si.Customer != nil {
		customer = si.Customer.ID
	}
	_, err = s.db.SaveCard(ctx, storage.CardSaved{EventID: ev.ID, EventType: string(ev.Type), AccountID: sess.ClientReferenceID,
		CustomerID: customer, At: s.now(),
		Card: apiws.PaymentMethod{Brand: string(card.Brand), Last4: card.Last4, ExpMonth: int(card.ExpMonth), ExpYear: int(card.ExpYear)}})
	return err
}

// receipt is the mail that confirms an invoice's payment.
func receipt(inv *apiws.Invoice, email string, now time.Time) *storage.OutgoingMail {
	body := fmt.Sprintf("Thank you: invoice %s for %s, %s, was paid on %s.\n\nIts PDF is on your dashboard's Billing page.\n",
		inv.Number, inv.PeriodStart.Format("January 2006"), Money(inv.Amount, inv.Currency), inv.PaidAt.Format("2 January 2006"))
	return &storage.OutgoingMail{ID: apiws.NewID("mail"), AccountID: inv.AccountID, To: email,
		Subject: "Receipt for invoice " + inv.Number, Body: body, CreatedAt: now, NextAttemptAt: now}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
