package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/billing/pdftext"
	"github.com/apiws/apiws/billing/stripemock"
	"github.com/apiws/apiws/storage"
)

const planFields = `id name monthlyMessages sendsPerSecond requestsPerSecond numbersLimit monthlyPriceMinor currency overagePriceMinor public`

const createPlanMutation = `mutation($i: PlanInput!) { createPlan(input: $i) { plan { ` + planFields + ` } userErrors { code field message } } }`

const updatePlanMutation = `mutation($id: ID!, $i: PlanInput!) { updatePlan(id: $id, input: $i) { plan { ` + planFields + ` } userErrors { code field message } } }`

const setAccountPlanMutation = `mutation($a: ID!, $p: ID!) { setAccountPlan(accountId: $a, planId: $p) { account { id plan { id } } userErrors { code field message } } }`

// planInput is a PlanInput with the changes given.
func planInput(name string, changes map[string]any) map[string]any {
	in := map[string]any{"name": name, "monthlyMessages": 1000, "sendsPerSecond": 100, "requestsPerSecond": 0,
		"numbersLimit": 5, "monthlyPriceMinor": 4900, "currency": "EUR", "overagePriceMinor": nil, "public": true}
	for k, v := range changes {
		in[k] = v
	}
	return in
}

// createPlan makes a plan as the operator and returns its id.
func createPlan(t *testing.T, base, operator string, in map[string]any) string {
	t.Helper()
	r := gql(t, base, operator, createPlanMutation, map[string]any{"i": in})
	id := str(r.Data, "createPlan", "plan", "id")
	if !strings.HasPrefix(id, "pln_") {
		t.Fatalf("createPlan(%v) = %+v", in, r)
	}
	return id
}

// setAccountPlan puts the account on the plan as the operator.
func setAccountPlan(t *testing.T, base, operator, accountID, planID string) {
	t.Helper()
	r := gql(t, base, operator, setAccountPlanMutation, map[string]any{"a": accountID, "p": planID})
	if str(r.Data, "setAccountPlan", "account", "plan", "id") != planID {
		t.Fatalf("setAccountPlan = %+v", r)
	}
}

func TestPlansAPI(t *testing.T) {
	for db, env := range databases(t) {
		t.Run(db, func(t *testing.T) {
			e := env(t)
			if e == nil {
				e = map[string]string{}
			}
			e["APIWS_PLAN_MONTHLY_MESSAGES"], e["APIWS_PLAN_NUMBERS"] = "250", "3"
			base := startServer(t, e)
			operator := newOperatorKey(t, base)
			token, accountID := signUp(t, base, "plans@example.com")

			r := gql(t, base, "", `{ plans { `+planFields+` } }`, nil)
			ps, _ := get(r.Data, "plans").([]any)
			if len(ps) != 1 || str(ps[0], "id") != "pln_default" || get(ps[0], "monthlyMessages") != 250.0 || get(ps[0], "numbersLimit") != 3.0 ||
				get(ps[0], "monthlyPriceMinor") != 0.0 || get(ps[0], "overagePriceMinor") != nil || get(ps[0], "public") != true {
				t.Fatalf("plans without credentials = %+v", r)
			}

			pro := createPlan(t, base, operator, planInput("Pro", map[string]any{"currency": "chf", "overagePriceMinor": 3}))
			hidden := createPlan(t, base, operator, planInput("Hidden", map[string]any{"public": false}))
			names := func(token string) []string {
				var out []string
				ps, _ := get(gql(t, base, token, `{ plans { name currency } }`, nil).Data, "plans").([]any)
				for _, p := range ps {
					out = append(out, str(p, "name")+"/"+str(p, "currency"))
				}
				return out
			}
			if got := names(token); !slices.Equal(got, []string{"free/EUR", "Pro/CHF"}) {
				t.Errorf("a customer's plans = %v", got)
			}
			if got := names(operator); !slices.Equal(got, []string{"free/EUR", "Hidden/EUR", "Pro/CHF"}) {
				t.Errorf("an operator's plans = %v", got)
			}

			t.Run("bad input", func(t *testing.T) {
				for _, tt := range []struct {
					in   map[string]any
					want []string
				}{
					{planInput("Pro", nil), []string{"TAKEN@input.name"}},
					{planInput("X", map[string]any{"monthlyPriceMinor": -1, "currency": "XXY"}), []string{"INVALID@input.monthlyPriceMinor", "INVALID@input.currency"}},
					{planInput("X", map[string]any{"monthlyMessages": -1, "numbersLimit": -2, "overagePriceMinor": -3}),
						[]string{"INVALID@input.monthlyMessages", "INVALID@input.numbersLimit", "INVALID@input.overagePriceMinor"}},
				} {
					r := gql(t, base, operator, createPlanMutation, map[string]any{"i": tt.in})
					if got := userErrorCodes(get(r.Data, "createPlan")); !slices.Equal(got, tt.want) || get(r.Data, "createPlan", "plan") != nil {
						t.Errorf("createPlan(%v) = %v, %+v; want %v", tt.in, got, r, tt.want)
					}
				}
				r := gql(t, base, operator, updatePlanMutation, map[string]any{"id": hidden, "i": planInput("pro", nil)})
				if got := userErrorCodes(get(r.Data, "updatePlan")); !slices.Equal(got, []string{"TAKEN@input.name"}) {
					t.Errorf("updatePlan to a name in use = %v", got)
				}
				r = gql(t, base, operator, updatePlanMutation, map[string]any{"id": "pln_01M90YZ3X2DVF7QMGB0ZZT200J", "i": planInput("Y", nil)})
				if got := userErrorCodes(get(r.Data, "updatePlan")); !slices.Equal(got, []string{"NOT_FOUND@id"}) {
					t.Errorf("updatePlan of an unknown plan = %v", got)
				}
				r = gql(t, base, operator, setAccountPlanMutation, map[string]any{"a": "acc_01M90YZ3X2DVF7QMGB0ZZT200J", "p": pro})
				if got := userErrorCodes(get(r.Data, "setAccountPlan")); !slices.Equal(got, []string{"NOT_FOUND@accountId"}) {
					t.Errorf("setAccountPlan of an unknown account = %v", got)
				}
				r = gql(t, base, operator, setAccountPlanMutation, map[string]any{"a": accountID, "p": "pln_nope"})
				if got := userErrorCodes(get(r.Data, "setAccountPlan")); !slices.Equal(got, []string{"NOT_FOUND@planId"}) {
					t.Errorf("setAccountPlan to an unknown plan = %v", got)
				}
				if got := names(operator); len(got) != 3 {
					t.Errorf("plans after bad input = %v", got)
				}
			})

			t.Run("customers may not", func(t *testing.T) {
				for _, op := range []struct {
					q    string
					vars map[string]any
				}{
					{createPlanMutation, map[string]any{"i": planInput("Mine", nil)}},
					{updatePlanMutation, map[string]any{"id": pro, "i": planInput("Mine", nil)}},
					{setAccountPlanMutation, map[string]any{"a": accountID, "p": hidden}},
				} {
					if r := gql(t, base, token, op.q, op.vars); r.code() != "FORBIDDEN" {
						t.Errorf("%s by a customer: %+v", op.q[:30], r)
					}
				}
				if got := names(operator); len(got) != 3 {
					t.Errorf("plans after refused calls = %v", got)
				}
				if id := str(gql(t, base, token, `{ viewer { plan { id } } }`, nil).Data, "viewer", "plan", "id"); id != "pln_default" {
					t.Errorf("the customer's plan = %q", id)
				}
			})
		})
	}
}

// TestPlanLimitsApplyAtOnce: after setAccountPlan (and updatePlan) the
// account's next requests, sends and connects meet the new limits.
func TestPlanLimitsApplyAtOnce(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_PLAN_MONTHLY_MESSAGES": "1", "APIWS_PLAN_NUMBERS": "1", "APIWS_PLAN_SENDS_PER_SECOND": "100",
		"APIWS_RATE_LIMIT_PER_SECOND": "50", "APIWS_SANDBOX_DELAY": "0"})
	operator := newOperatorKey(t, base)
	token, accountID := signUp(t, base, "limits@example.com")
	num := connectedNumber(t, base, token)
	connect := func() []string {
		r := gql(t, base, token, connectMutation, map[string]any{"i": map[string]any{"sandbox": true}})
		return userErrorCodes(get(r.Data, "connectNumber"))
	}
	sendErrors := func(text string) []string {
		r := gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": text}})
		return userErrorCodes(get(r.Data, "sendMessage"))
	}

	// The default plan: one number, one message.
	if got := connect(); !slices.Equal(got, []string{"QUOTA_EXCEEDED@input"}) {
		t.Fatalf("a second number on pln_default: %v", got)
	}
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "1"})
	if got := sendErrors("2"); !slices.Equal(got, []string{"QUOTA_EXCEEDED@input"}) {
		t.Fatalf("a second message on pln_default: %v", got)
	}

	// Two numbers, two messages, sends paced at 2 a second.
	small := createPlan(t, base, operator, planInput("Small", map[string]any{"monthlyMessages": 5, "numbersLimit": 2, "sendsPerSecond": 2}))
	setAccountPlan(t, base, operator, accountID, small)
	if q := gql(t, base, token, `{ viewer { quota { limit } plan { id numbersLimit } } }`, nil); get(q.Data, "viewer", "quota", "limit") != 5.0 {
		t.Fatalf("quota after setAccountPlan: %+v", q)
	}
	if got := connect(); len(got) != 0 {
		t.Fatalf("a second number on Small: %v", got)
	}
	if got := connect(); !slices.Equal(got, []string{"QUOTA_EXCEEDED@input"}) {
		t.Fatalf("a third number on Small: %v", got)
	}
	// Sent at the plan's pace, whether a message waited in the queue
	// behind another or came after the queue emptied.
	var paced []string
	for i := range 4 {
		paced = append(paced, send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("paced ", i)}))
		if i == 1 {
			// The queue empties before the next one comes.
			waitMessages(t, base, token, "the second paced message sent", func(ms map[string]any) bool { return statusOf(ms, paced[1]) != "QUEUED" })
		}
	}
	if got := sendErrors("over"); !slices.Equal(got, []string{"QUOTA_EXCEEDED@input"}) {
		t.Fatalf("a sixth message on Small: %v", got)
	}
	_, sent := sendTimes(t, base, token, paced)
	for i := 1; i < len(sent); i++ {
		// 2 a second: 500 ms apart, less the pace's jitter of 25 %.
		if gap := sent[i].Sub(sent[i-1]); gap < 350*time.Millisecond {
			t.Errorf("sends %d and %d %v apart on a plan of 2 a second", i-1, i, gap)
		}
	}

	// An overage price lets sends go on, at once.
	in := planInput("Small", map[string]any{"monthlyMessages": 5, "numbersLimit": 2, "sendsPerSecond": 100, "overagePriceMinor": 1})
	if r := gql(t, base, operator, updatePlanMutation, map[string]any{"id": small, "i": in}); str(r.Data, "updatePlan", "plan", "id") != small {
		t.Fatalf("updatePlan = %+v", r)
	}
	if got := sendErrors("billed"); len(got) != 0 {
		t.Fatalf("a message over the quota with an overage price: %v", got)
	}

	// A plan's request rate replaces the server's.
	slow := createPlan(t, base, operator, planInput("Slow", map[string]any{"requestsPerSecond": 0.5}))
	setAccountPlan(t, base, operator, accountID, slow)
	limited := false
	for range 5 {
		if gql(t, base, token, `{ viewer { id } }`, nil).code() == "RATE_LIMITED" {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("5 requests at once on a plan of 0.5 a second were all let through")
	}
}

// sendTimes waits for the messages to be SENT and returns when each was
// queued and sent.
func sendTimes(t *testing.T, base, token string, ids []string) (queued, sent []time.Time) {
	t.Helper()
	parse := func(v any) time.Time {
		at, err := time.Parse(time.RFC3339Nano, str(v))
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	eventually(t, "the messages sent", 10*time.Second, func() bool {
		queued, sent = nil, nil
		for _, id := range ids {
			m := get(gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on Message { queuedAt sentAt } } }`, map[string]any{"id": id}).Data, "node")
			if str(m, "sentAt") == "" {
				return false
			}
			queued, sent = append(queued, parse(get(m, "queuedAt"))), append(sent, parse(get(m, "sentAt")))
		}
		return true
	})
	return queued, sent
}

// getPDF GETs url with the bearer token ("": none) and returns the status
// and, for a PDF, its bytes.
func getPDF(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == 200 && resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("GET %s: %s", url, resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, body
}

// billingCLI runs `apiws billing ARGS` on the server's database with the
// extra environment, and returns what it printed.
func billingCLI(t *testing.T, base string, env map[string]string, args ...string) (stdout, stderr string) {
	t.Helper()
	full := map[string]string{"APIWS_DATABASE_URL": serverOf(t, base).dbURL}
	for k, v := range env {
		full[k] = v
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), append([]string{"billing"}, args...), func(k string) string { return full[k] }, &out, &errOut); err != nil {
		t.Fatalf("billing %v: %v\n%s", args, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// planSince backdates the account's plan assignments to at, as if the
// operator had set the plan then.
func planSince(t *testing.T, base, accountID string, at time.Time) {
	t.Helper()
	db, err := storage.Open(t.Context(), serverOf(t, base).dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Bun.NewRaw("UPDATE account_plans SET assigned_at = ? WHERE account_id = ?", at.UTC(), accountID).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// acceptedInRollups is how many messages of the account the rollups hold.
func acceptedInRollups(t *testing.T, base, accountID string) int {
	t.Helper()
	db, err := storage.Open(t.Context(), serverOf(t, base).dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, err := db.AcceptedMessages(t.Context(), accountID, time.Time{}, time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

const invoicesQuery = `{ viewer { invoices { totalCount edges { node { id number periodStart periodEnd issuedAt dueAt status currency
  lines { description quantity unitPriceMinor amountMinor } subtotalMinor taxMinor totalMinor paidAt pdfUrl } } } } }`

// TestBillingClose closes this month (as if at the start of the next) with
// the CLI: one invoice for the account on a paid plan, with its overage
// and tax, none for the free one, and nothing more the second time.
func TestBillingClose(t *testing.T) {
	for dbName, env := range databases(t) {
		t.Run(dbName, func(t *testing.T) {
			e := env(t)
			if e == nil {
				e = map[string]string{}
			}
			e["APIWS_SANDBOX_DELAY"], e["APIWS_PUBLIC_URL"] = "0", "https://api.example.com"
			base := startServer(t, e)
			operator := newOperatorKey(t, base)
			token, accountID := signUp(t, base, "payer@example.com")
			freeToken, freeID := signUp(t, base, "free@example.com")
			r := gql(t, base, token, `mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { userErrors { code } } }`,
				map[string]any{"i": map[string]any{"business": map[string]any{"name": "Acme Ltd", "address": "1 Main St", "vatId": "GB123"}}})
			if len(userErrorCodes(get(r.Data, "updateAccount"))) != 0 || r.code() != "" {
				t.Fatalf("updateAccount = %+v", r)
			}
			pro := createPlan(t, base, operator, planInput("Pro", map[string]any{"monthlyMessages": 2, "monthlyPriceMinor": 1000, "overagePriceMinor": 25}))
			setAccountPlan(t, base, operator, accountID, pro)
			// Billing follows the plan an account had when the month began.
			month := time.Now().UTC()
			month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
			planSince(t, base, accountID, month.Add(-time.Hour))

			for _, who := range []string{token, freeToken} {
				num := connectedNumber(t, base, who)
				for i := range 3 {
					send(t, base, who, map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("billed ", i)})
				}
			}
			eventually(t, "the messages in the rollups", 10*time.Second, func() bool {
				return acceptedInRollups(t, base, accountID) == 3 && acceptedInRollups(t, base, freeID) == 3
			})

			next := month.AddDate(0, 1, 0)
			asOf := next.Add(5 * time.Minute)
			cliEnv := map[string]string{"APIWS_TAX_RATE_PERCENT": "20", "APIWS_INVOICE_PREFIX": "ACME"}
			out, _ := billingCLI(t, base, cliEnv, "close", "--period", month.Format("2006-01"), "--as-of", asOf.Format(time.RFC3339))
			number := fmt.Sprintf("ACME-%d-000001", month.Year())
			if want := number + "\t" + accountID + "\tEUR\t1230\n"; out != want {
				t.Fatalf("billing close printed %q; want %q", out, want)
			}

			r = gql(t, base, token, invoicesQuery, nil)
			inv := get(r.Data, "viewer", "invoices", "edges", 0, "node")
			lines, _ := get(inv, "lines").([]any)
			if get(r.Data, "viewer", "invoices", "totalCount") != 1.0 || str(inv, "number") != number || str(inv, "status") != "OPEN" ||
				str(inv, "currency") != "EUR" || len(lines) != 2 ||
				str(lines[0], "description") != "Pro plan, "+month.Format("January 2006") || get(lines[0], "amountMinor") != 1000.0 ||
				get(lines[1], "quantity") != 1.0 || get(lines[1], "unitPriceMinor") != 25.0 || get(lines[1], "amountMinor") != 25.0 ||
				get(inv, "subtotalMinor") != 1025.0 || get(inv, "taxMinor") != 205.0 || get(inv, "totalMinor") != 1230.0 ||
				str(inv, "periodStart") != month.Format("2006-01-02T15:04:05.000Z") || str(inv, "periodEnd") != next.Format("2006-01-02T15:04:05.000Z") ||
				str(inv, "issuedAt") != asOf.Format("2006-01-02T15:04:05.000Z") || get(inv, "paidAt") != nil ||
				str(inv, "pdfUrl") != "https://api.example.com/invoices/"+str(inv, "id")+".pdf" {
				t.Fatalf("the invoice = %+v", r)
			}
			if n := get(gql(t, base, freeToken, invoicesQuery, nil).Data, "viewer", "invoices", "totalCount"); n != 0.0 {
				t.Fatalf("the free account's invoices: %v", n)
			}
			node := `query($id: ID!) { node(id: $id) { ... on Invoice { number } } }`
			if r := gql(t, base, freeToken, node, map[string]any{"id": str(inv, "id")}); get(r.Data, "node") != nil {
				t.Fatalf("another account's invoice by node: %+v", r)
			}
			if r := gql(t, base, operator, node, map[string]any{"id": str(inv, "id")}); str(r.Data, "node", "number") != number {
				t.Fatalf("an operator's node(invoice): %+v", r)
			}

			t.Run("the PDF", func(t *testing.T) {
				path := "/invoices/" + str(inv, "id") + ".pdf"
				key, _ := createAPIKey(t, base, token, "READ")
				for who, want := range map[string]int{"": 401, freeToken: 404, token: 200, key: 200, operator: 200} {
					status, body := getPDF(t, base+path, who)
					if status != want {
						t.Fatalf("GET %s as %.12q: %d; want %d", path, who, status, want)
					}
					if status != 200 {
						continue
					}
					text, err := pdftext.Text(body)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range []string{"Invoice " + number, "12.30 EUR", "10.25 EUR", "Tax (20 %)", "2.05 EUR", "Acme Ltd"} {
						if !strings.Contains(text, s) {
							t.Errorf("the PDF's text lacks %q:\n%s", s, text)
						}
					}
				}
				if status, _ := getPDF(t, base+"/invoices/inv_01M90YZ3X2DVF7QMGB0ZZT200J.pdf", token); status != 404 {
					t.Errorf("an unknown invoice's PDF: %d", status)
				}
			})

			out, errOut := billingCLI(t, base, cliEnv, "close", "--period", month.Format("2006-01"), "--as-of", asOf.Add(time.Hour).Format(time.RFC3339))
			if out != "" || !strings.Contains(errOut, ": 0 invoices issued") {
				t.Fatalf("a second close printed %q, %q", out, errOut)
			}
		})
	}
}

const webhookSecret = "whsec_e2e"

// stripeSigned is the Stripe-Signature header of payload at t.
func stripeSigned(payload []byte, at time.Time, secret string) string {
	ts := fmt.Sprint(at.Unix())
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(payload)))
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// postStripe POSTs a webhook call to /billing/stripe and returns the
// status.
func postStripe(t *testing.T, base string, payload []byte, signature string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/billing/stripe", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkoutCompleted is a checkout.session.completed event of the session.
func checkoutCompleted(eventID string, session map[string]any) []byte {
	session["object"] = "checkout.session"
	b, _ := json.Marshal(map[string]any{"id": eventID, "object": "event", "type": "checkout.session.completed",
		"api_version": "2020-08-27", "created": time.Now().Unix(), "data": map[string]any{"object": session}})
	return b
}

// openInvoice makes an OPEN invoice of the account: it puts it on a paid
// plan since last month and closes last month.
func openInvoice(t *testing.T, base, operator, accountID string) {
	t.Helper()
	plan := createPlan(t, base, operator, planInput("Paid "+accountID, map[string]any{"monthlyPriceMinor": 1500}))
	setAccountPlan(t, base, operator, accountID, plan)
	month := time.Now().UTC()
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	planSince(t, base, accountID, month.Add(-time.Hour))
	billingCLI(t, base, nil, "close", "--period", month.Format("2006-01"), "--as-of", month.AddDate(0, 1, 0).Format(time.RFC3339))
}

const payInvoiceMutation = `mutation($id: ID!) { payInvoice(id: $id) { url userErrors { code field message } } }`

const setupMutation = `mutation { startPaymentMethodSetup { url userErrors { code field message } } }`

// TestStripePayments: the Checkout pages (from stripe-mock), and the
// webhook's payments and saved cards, through the API.
func TestStripePayments(t *testing.T) {
	mailDir := t.TempDir()
	base := startServer(t, map[string]string{"APIWS_STRIPE_SECRET_KEY": stripemock.Key, "APIWS_STRIPE_WEBHOOK_SECRET": webhookSecret,
		"APIWS_STRIPE_API_URL": stripemock.Start(t), "APIWS_PUBLIC_URL": "https://api.example.com", "APIWS_MAIL_DIR": mailDir})
	operator := newOperatorKey(t, base)
	token, accountID := signUp(t, base, "stripe@example.com")
	otherToken, _ := signUp(t, base, "other@example.com")
	openInvoice(t, base, operator, accountID)
	invID := str(gql(t, base, token, invoicesQuery, nil).Data, "viewer", "invoices", "edges", 0, "node", "id")
	if invID == "" {
		t.Fatal("no invoice to pay")
	}

	r := gql(t, base, token, payInvoiceMutation, map[string]any{"id": invID})
	if url := str(r.Data, "payInvoice", "url"); !strings.HasPrefix(url, "https://") {
		t.Fatalf("payInvoice = %+v", r)
	}
	r = gql(t, base, token, setupMutation, nil)
	if url := str(r.Data, "startPaymentMethodSetup", "url"); !strings.HasPrefix(url, "https://") {
		t.Fatalf("startPaymentMethodSetup = %+v", r)
	}
	if got := userErrorCodes(get(gql(t, base, otherToken, payInvoiceMutation, map[string]any{"id": invID}).Data, "payInvoice")); !slices.Equal(got, []string{"NOT_FOUND@id"}) {
		t.Fatalf("payInvoice of another account's invoice: %v", got)
	}
	key, _ := createAPIKey(t, base, token, "READ")
	if r := gql(t, base, key, payInvoiceMutation, map[string]any{"id": invID}); r.code() != "FORBIDDEN" {
		t.Fatalf("payInvoice with an API key: %+v", r)
	}

	status := func() string {
		return str(gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on Invoice { status } } }`, map[string]any{"id": invID}).Data, "node", "status")
	}
	paid := checkoutCompleted("evt_e2e_paid", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": invID})
	for name, call := range map[string]struct {
		payload   []byte
		signature string
		want      int
	}{
		"bad signature":   {paid, stripeSigned(paid, time.Now(), "whsec_wrong"), 400},
		"stale":           {paid, stripeSigned(paid, time.Now().Add(-6*time.Minute), webhookSecret), 400},
		"not JSON":        {[]byte("{paid"), stripeSigned([]byte("{paid"), time.Now(), webhookSecret), 400},
		"unknown invoice": {checkoutCompleted("evt_e2e_unknown", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": "inv_01M90YZ3X2DVF7QMGB0ZZT200J"}), "", 200},
	} {
		sig := call.signature
		if sig == "" {
			sig = stripeSigned(call.payload, time.Now(), webhookSecret)
		}
		if got := postStripe(t, base, call.payload, sig); got != call.want {
			t.Errorf("%s: %d; want %d", name, got, call.want)
		}
		if s := status(); s != "OPEN" {
			t.Fatalf("after %s the invoice is %s", name, s)
		}
	}
	for range 2 {
		if got := postStripe(t, base, paid, stripeSigned(paid, time.Now(), webhookSecret)); got != 200 {
			t.Fatalf("a paid session: %d", got)
		}
	}
	if s := status(); s != "PAID" {
		t.Fatalf("after the payment the invoice is %s", s)
	}
	if got := userErrorCodes(get(gql(t, base, token, payInvoiceMutation, map[string]any{"id": invID}).Data, "payInvoice")); !slices.Equal(got, []string{"INVALID@id"}) {
		t.Fatalf("payInvoice of a PAID invoice: %v", got)
	}
	receipts := func() int {
		n := 0
		files, _ := os.ReadDir(mailDir)
		for _, f := range files {
			b, _ := os.ReadFile(filepath.Join(mailDir, f.Name()))
			if strings.Contains(string(b), "Receipt for invoice") {
				n++
			}
		}
		return n
	}
	eventually(t, "the receipt mailed", 10*time.Second, func() bool { return receipts() == 1 })

	setup := checkoutCompleted("evt_e2e_setup", map[string]any{"mode": "setup", "client_reference_id": accountID, "setup_intent": "seti_123"})
	if got := postStripe(t, base, setup, stripeSigned(setup, time.Now(), webhookSecret)); got != 200 {
		t.Fatalf("a completed setup: %d", got)
	}
	pm := get(gql(t, base, token, `{ viewer { paymentMethod { brand last4 expMonth expYear } } }`, nil).Data, "viewer", "paymentMethod")
	if str(pm, "brand") == "" || len(str(pm, "last4")) != 4 || get(pm, "expYear") == nil {
		t.Fatalf("the saved card: %v", pm)
	}
	if receipts() != 1 {
		t.Fatalf("%d receipts for one payment", receipts())
	}
}

// TestPaymentsUnavailableWithoutStripe: without a Stripe key invoices are
// issued, and the payment pages answer the userError UNAVAILABLE.
func TestPaymentsUnavailableWithoutStripe(t *testing.T) {
	base := startServer(t, nil)
	operator := newOperatorKey(t, base)
	token, accountID := signUp(t, base, "nostripe@example.com")
	openInvoice(t, base, operator, accountID)
	invID := str(gql(t, base, token, invoicesQuery, nil).Data, "viewer", "invoices", "edges", 0, "node", "id")
	if invID == "" {
		t.Fatal("no invoice issued without a Stripe key")
	}
	r := gql(t, base, token, payInvoiceMutation, map[string]any{"id": invID})
	if got := userErrorCodes(get(r.Data, "payInvoice")); !slices.Equal(got, []string{"UNAVAILABLE@"}) || get(r.Data, "payInvoice", "url") != nil {
		t.Fatalf("payInvoice without Stripe = %+v", r)
	}
	r = gql(t, base, token, setupMutation, nil)
	if got := userErrorCodes(get(r.Data, "startPaymentMethodSetup")); !slices.Equal(got, []string{"UNAVAILABLE@"}) {
		t.Fatalf("startPaymentMethodSetup without Stripe = %+v", r)
	}
	payload := checkoutCompleted("evt_x", map[string]any{"mode": "payment", "payment_status": "paid", "client_reference_id": invID})
	if got := postStripe(t, base, payload, stripeSigned(payload, time.Now(), "")); got != 400 {
		t.Fatalf("a webhook call without a webhook secret: %d", got)
	}
}
