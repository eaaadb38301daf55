package billing_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/billing/stripemock"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

const webhookSecret = "whsec_test_secret"

// signed returns the Stripe-Signature header of payload at t with secret.
func signed(payload []byte, t time.Time, secret string) string {
	ts := fmt.Sprint(t.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(payload)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// sessionCompleted is a checkout.session.completed event.
func sessionCompleted(eventID string, session map[string]any) []byte {
	return sessionEvent(eventID, "checkout.session.completed", session)
}

// sessionEvent is a checkout.session event of the type.
func sessionEvent(eventID, typ string, session map[string]any) []byte {
	session["object"] = "checkout.session"
	b, _ := json.Marshal(map[string]any{"id": eventID, "object": "event", "type": typ,
		"api_version": "2019-02-19", "created": time.Now().Unix(), "data": map[string]any{"object": session}})
	return b
}

// issueInvoice writes an OPEN invoice of the account.
func issueInvoice(t *testing.T, db *storage.DB, accountID string, month time.Time) *apiws.Invoice {
	t.Helper()
	inv := &apiws.Invoice{ID: apiws.NewID(apiws.PrefixInvoice), AccountID: &accountID, PeriodStart: month, PeriodEnd: month.AddDate(0, 1, 0),
		IssuedAt: month.AddDate(0, 1, 0), DueAt: month.AddDate(0, 1, 14), Status: apiws.InvoiceOpen, Currency: "EUR",
		Lines: []*apiws.InvoiceLine{{Description: "Pro", Quantity: 1, UnitPriceMinor: 1000, AmountMinor: 1000}}, SubtotalMinor: 1000, Amount: 1000}
	if err := db.IssueInvoice(context.Background(), inv, "INV", month.Year()); err != nil {
		t.Fatal(err)
	}
	return inv
}

func count(t *testing.T, db *storage.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Bun.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPaymentsWithoutStripe(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Now().UTC()
		s := newService(t, db, &now)
		a, aCtx := newAccount(t, db, "a@example.com")
		_, bCtx := newAccount(t, db, "b@example.com")
		inv := issueInvoice(t, db, a, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		if _, err := s.StartPaymentMethodSetup(aCtx); !isUnavailable(err) {
			t.Errorf("StartPaymentMethodSetup without a key: %v", err)
		}
		if _, err := s.PayInvoice(aCtx, inv.ID); !isUnavailable(err) {
			t.Errorf("PayInvoice without a key: %v", err)
		}
		if _, err := s.PayInvoice(bCtx, inv.ID); !slicesEqual(fieldErrors(err), "NOT_FOUND@id") {
			t.Errorf("PayInvoice of another account's invoice: %v", err)
		}
		if err := s.HandleStripeWebhook(context.Background(), sessionCompleted("evt_1", map[string]any{}), "t=1,v1=00"); apiws.ErrorCodeOf(err) != apiws.EINVALID {
			t.Errorf("a webhook call without a webhook secret: %v", err)
		}
	})
}

func isUnavailable(err error) bool {
	e, ok := err.(*apiws.Error)
	return ok && e.IsPaymentsUnavailable()
}

func slicesEqual(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}

func TestStripe(t *testing.T) {
	apiURL := stripemock.Start(t)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		mails := 0
		s := billing.New(db, billing.Options{DefaultPlan: freePlan, PublicURL: "https://api.example.com", MailQueued: func() { mails++ },
			Stripe: billing.StripeOptions{SecretKey: stripemock.Key, WebhookSecret: webhookSecret, APIURL: apiURL}})
		if err := s.WriteDefaultPlan(ctx); err != nil {
			t.Fatal(err)
		}
		a, aCtx := newAccount(t, db, "a@example.com")
		_, bCtx := newAccount(t, db, "b@example.com")
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		inv := issueInvoice(t, db, a, nov)

		t.Run("a page to save a card", func(t *testing.T) {
			url, err := s.StartPaymentMethodSetup(aCtx)
			if err != nil || !strings.HasPrefix(url, "https://") {
				t.Fatalf("StartPaymentMethodSetup = %q, %v", url, err)
			}
			if n := count(t, db, "SELECT count(*) FROM payment_methods WHERE account_id = ? AND customer_id LIKE 'cus_%' AND brand IS NULL", a); n != 1 {
				t.Fatalf("the account's stripe customer: %d rows", n)
			}
			if _, err := s.StartPaymentMethodSetup(operator); apiws.ErrorCodeOf(err) != apiws.EFORBIDDEN {
				t.Fatalf("an operator's setup: %v", err)
			}
		})

		t.Run("a page to pay an invoice", func(t *testing.T) {
			url, err := s.PayInvoice(aCtx, inv.ID)
			if err != nil || !strings.HasPrefix(url, "https://") {
				t.Fatalf("PayInvoice = %q, %v", url, err)
			}
			if _, err := s.PayInvoice(bCtx, inv.ID); !slicesEqual(fieldErrors(err), "NOT_FOUND@id") {
				t.Fatalf("PayInvoice of another account's invoice: %v", err)
			}
		})

		unchanged := func(t *testing.T) {
			t.Helper()
			got, _ := db.Invoice(ctx, inv.ID)
			if got.Status != apiws.InvoiceOpen || got.PaidAt != nil || count(t, db, "SELECT count(*) FROM stripe_events") != 0 || mails != 0 {
				t.Fatalf("changed: %+v, %d events, %d mails", got, count(t, db, "SELECT count(*) FROM stripe_events"), mails)
			}
		}
		paid := sessionCompleted("evt_paid", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": inv.ID})

		t.Run("calls that are not signed, fresh events change nothing", func(t *testing.T) {
			for name, call := range map[string]struct {
				payload []byte
				sig     string
			}{
				"bad signature":   {paid, signed(paid, time.Now(), "whsec_other")},
				"no signature":    {paid, ""},
				"stale":           {paid, signed(paid, time.Now().Add(-6*time.Minute), webhookSecret)},
				"not JSON":        {[]byte("paid!"), signed([]byte("paid!"), time.Now(), webhookSecret)},
				"body tampered":   {append(append([]byte{}, paid...), ' '), signed(paid, time.Now(), webhookSecret)},
				"unknown invoice": {sessionCompleted("evt_unknown", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": "inv_01M90YZ3X2DVF7QMGB0ZZT200J"}), ""},
				"unpaid":          {sessionCompleted("evt_unpaid", map[string]any{"mode": "payment", "payment_status": "unpaid", "client_reference_id": inv.ID}), ""},
			} {
				sig := call.sig
				if sig == "" && (name == "unknown invoice" || name == "unpaid") {
					sig = signed(call.payload, time.Now(), webhookSecret)
				}
				err := s.HandleStripeWebhook(ctx, call.payload, sig)
				wantErr := name != "unknown invoice" && name != "unpaid"
				if wantErr != (apiws.ErrorCodeOf(err) == apiws.EINVALID) || !wantErr && err != nil {
					t.Errorf("%s: %v", name, err)
				}
				unchanged(t)
			}
		})

		t.Run("a paid session marks its invoice PAID once", func(t *testing.T) {
			for range 2 {
				if err := s.HandleStripeWebhook(ctx, paid, signed(paid, time.Now(), webhookSecret)); err != nil {
					t.Fatal(err)
				}
			}
			again := sessionCompleted("evt_paid_again", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": inv.ID})
			if err := s.HandleStripeWebhook(ctx, again, signed(again, time.Now(), webhookSecret)); err != nil {
				t.Fatal(err)
			}
			got, _ := db.Invoice(ctx, inv.ID)
			if got.Status != apiws.InvoicePaid || got.PaidAt == nil || got.Number != inv.Number || got.Amount != inv.Amount {
				t.Fatalf("after payment: %+v", got)
			}
			if n := count(t, db, "SELECT count(*) FROM audit_entries WHERE action = 'invoice.paid' AND account_id = ?", a); n != 1 {
				t.Errorf("%d audit entries of the payment", n)
			}
			if n := count(t, db, "SELECT count(*) FROM mail_outbox WHERE to_address = 'a@example.com' AND subject = ?", "Receipt for invoice "+inv.Number); n != 1 || mails != 1 {
				t.Errorf("%d receipts queued, %d notified", n, mails)
			}
			if _, err := s.PayInvoice(aCtx, inv.ID); !slicesEqual(fieldErrors(err), "INVALID@id") {
				t.Errorf("PayInvoice of a PAID invoice: %v", err)
			}
		})

		t.Run("a delayed payment succeeds later", func(t *testing.T) {
			later := issueInvoice(t, db, a, nov.AddDate(0, 1, 0))
			unpaid := sessionCompleted("evt_debit", map[string]any{"mode": "payment", "payment_status": "unpaid", "client_reference_id": later.ID})
			succeeded := sessionEvent("evt_debit_ok", "checkout.session.async_payment_succeeded",
				map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": later.ID})
			for _, ev := range [][]byte{unpaid, succeeded} {
				if err := s.HandleStripeWebhook(ctx, ev, signed(ev, time.Now(), webhookSecret)); err != nil {
					t.Fatal(err)
				}
				if got, _ := db.Invoice(ctx, later.ID); (got.Status == apiws.InvoicePaid) != (string(ev) == string(succeeded)) {
					t.Fatalf("after %.60s: %s", ev, got.Status)
				}
			}
		})

		t.Run("a completed setup saves the card's public details", func(t *testing.T) {
			if pm, err := s.PaymentMethod(aCtx, a); err != nil || pm != nil {
				t.Fatalf("before: %+v, %v", pm, err)
			}
			setup := sessionCompleted("evt_setup", map[string]any{"mode": "setup", "client_reference_id": a, "customer": "cus_123", "setup_intent": "seti_123"})
			if err := s.HandleStripeWebhook(ctx, setup, signed(setup, time.Now(), webhookSecret)); err != nil {
				t.Fatal(err)
			}
			pm, err := s.PaymentMethod(aCtx, a)
			if err != nil || pm == nil || pm.Brand == "" || len(pm.Last4) != 4 || pm.ExpMonth < 1 || pm.ExpMonth > 12 || pm.ExpYear < 2000 {
				t.Fatalf("the saved card: %+v, %v", pm, err)
			}
			t.Logf("the card stripe-mock reports: %+v", pm)
			if data, err := db.AccountData(ctx, a); err != nil || len(data.Payment) != 1 || *data.Payment[0].Last4 != pm.Last4 || data.Payment[0].CustomerID == "" {
				t.Fatalf("the account's data holds %+v, %v", data.Payment, err)
			}
			if _, err := s.PaymentMethod(bCtx, a); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
				t.Fatalf("another account's card: %v", err)
			}
			unknown := sessionCompleted("evt_setup_unknown", map[string]any{"mode": "setup", "client_reference_id": "acc_01M90YZ3X2DVF7QMGB0ZZT200J", "setup_intent": "seti_123"})
			if err := s.HandleStripeWebhook(ctx, unknown, signed(unknown, time.Now(), webhookSecret)); err != nil {
				t.Fatal(err)
			}
			if n := count(t, db, "SELECT count(*) FROM payment_methods"); n != 1 {
				t.Fatalf("%d payment methods after a setup of an unknown account", n)
			}
		})
	})
}
