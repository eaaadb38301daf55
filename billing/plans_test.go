package billing_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

var (
	operator = apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialOperator, OperatorKeyID: "opk_test"})
	freePlan = apiws.Plan{Name: "free", MonthlyMessages: 100, SendsPerSecond: 5, RequestsPerSecond: 20, NumbersLimit: 2, Currency: "EUR"}
)

// newService opens the billing service over a new database, its clock at
// *now.
func newService(t *testing.T, db *storage.DB, now *time.Time) *billing.Service {
	t.Helper()
	s := billing.New(db, billing.Options{DefaultPlan: freePlan, Now: func() time.Time { return *now }})
	if err := s.WriteDefaultPlan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// newAccount writes an account and returns a dashboard session's context
// of it.
func newAccount(t *testing.T, db *storage.DB, email string) (string, context.Context) {
	t.Helper()
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Acme", Email: email, Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now, Business: &apiws.BusinessDetails{}}
	sess := &apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(email), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAccount(context.Background(), acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now}, sess,
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now}); err != nil {
		t.Fatal(err)
	}
	return acc.ID, apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID})
}

func ptr[T any](v T) *T { return &v }

func proPlan() apiws.PlanInput {
	return apiws.PlanInput{Name: "Pro", MonthlyMessages: 1000, SendsPerSecond: 10, RequestsPerSecond: 50, NumbersLimit: 5,
		MonthlyPriceMinor: 4900, Currency: "eur", OveragePriceMinor: ptr(2), Public: true}
}

// fieldErrors lists err's problems as code@path.
func fieldErrors(err error) []string {
	var out []string
	add := func(e *apiws.Error) {
		path := ""
		for i, f := range e.Field {
			if i > 0 {
				path += "."
			}
			path += f
		}
		out = append(out, string(e.Code)+"@"+path)
	}
	switch e := err.(type) {
	case apiws.Errors:
		for _, x := range e {
			add(x)
		}
	case *apiws.Error:
		add(e)
	}
	return out
}

func TestPlans(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
		s := newService(t, db, &now)
		accID, customer := newAccount(t, db, "ann@example.com")

		t.Run("the default plan comes from the settings", func(t *testing.T) {
			p, err := s.AccountPlan(customer, accID)
			if err != nil || p.ID != apiws.DefaultPlanID || p.MonthlyMessages != 100 || p.NumbersLimit != 2 || p.MonthlyPriceMinor != 0 || !p.Public {
				t.Fatalf("plan of a new account = %+v, %v", p, err)
			}
		})

		var pro *apiws.Plan
		t.Run("an operator creates a plan", func(t *testing.T) {
			var err error
			pro, err = s.CreatePlan(operator, proPlan())
			if err != nil || !apiws.ValidID(pro.ID, apiws.PrefixPlan) || pro.Currency != "EUR" || *pro.OveragePriceMinor != 2 {
				t.Fatalf("CreatePlan = %+v, %v", pro, err)
			}
		})

		t.Run("bad input is reported by field and changes nothing", func(t *testing.T) {
			tests := []struct {
				name   string
				change func(in *apiws.PlanInput)
				want   []string
			}{
				{"negative price", func(in *apiws.PlanInput) { in.MonthlyPriceMinor = -1 }, []string{"INVALID@input.monthlyPriceMinor"}},
				{"negative overage price", func(in *apiws.PlanInput) { in.OveragePriceMinor = ptr(-5) }, []string{"INVALID@input.overagePriceMinor"}},
				{"unknown currency", func(in *apiws.PlanInput) { in.Currency = "EUX" }, []string{"INVALID@input.currency"}},
				{"not a code", func(in *apiws.PlanInput) { in.Currency = "euro" }, []string{"INVALID@input.currency"}},
				{"negative messages and numbers", func(in *apiws.PlanInput) { in.MonthlyMessages, in.NumbersLimit = -1, -1 },
					[]string{"INVALID@input.monthlyMessages", "INVALID@input.numbersLimit"}},
				{"no send rate", func(in *apiws.PlanInput) { in.SendsPerSecond = 0 }, []string{"INVALID@input.sendsPerSecond"}},
				{"empty name", func(in *apiws.PlanInput) { in.Name = "  " }, []string{"INVALID@input.name"}},
				{"a name in use, in another case", func(in *apiws.PlanInput) { in.Name = "PRO" }, []string{"TAKEN@input.name"}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					in := proPlan()
					tt.change(&in)
					_, err := s.CreatePlan(operator, in)
					if got := fieldErrors(err); !reflect.DeepEqual(got, tt.want) {
						t.Fatalf("CreatePlan = %v (%v); want %v", got, err, tt.want)
					}
					if tt.want[0] == "TAKEN@input.name" {
						return // its own name, in any case, is the plan's to keep
					}
					_, err = s.UpdatePlan(operator, pro.ID, in)
					if got := fieldErrors(err); !reflect.DeepEqual(got, tt.want) {
						t.Fatalf("UpdatePlan = %v (%v); want %v", got, err, tt.want)
					}
				})
			}
			ps, err := s.Plans(operator)
			if err != nil || len(ps) != 2 || ps[1].Name != "Pro" {
				t.Fatalf("plans after refused inputs = %d, %v", len(ps), err)
			}
			if p, _ := db.Plan(context.Background(), pro.ID); p.Name != "Pro" || p.MonthlyPriceMinor != 4900 {
				t.Fatalf("the plan changed: %+v", p)
			}
		})

		t.Run("a name another plan has is taken", func(t *testing.T) {
			in := proPlan()
			in.Name = "Other"
			other, err := s.CreatePlan(operator, in)
			if err != nil {
				t.Fatal(err)
			}
			in.Name = "pro"
			if _, err := s.UpdatePlan(operator, other.ID, in); !reflect.DeepEqual(fieldErrors(err), []string{"TAKEN@input.name"}) {
				t.Fatalf("UpdatePlan to another plan's name: %v", err)
			}
			in.Name, in.Public = "Other", false
			if _, err := s.UpdatePlan(operator, other.ID, in); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("operator only", func(t *testing.T) {
			if _, err := s.CreatePlan(customer, proPlan()); apiws.ErrorCodeOf(err) != apiws.EFORBIDDEN {
				t.Errorf("CreatePlan by a customer: %v", err)
			}
			if _, err := s.UpdatePlan(customer, pro.ID, proPlan()); apiws.ErrorCodeOf(err) != apiws.EFORBIDDEN {
				t.Errorf("UpdatePlan by a customer: %v", err)
			}
			if _, err := s.SetAccountPlan(customer, accID, pro.ID); apiws.ErrorCodeOf(err) != apiws.EFORBIDDEN {
				t.Errorf("SetAccountPlan by a customer: %v", err)
			}
		})

		t.Run("unknown plans and accounts", func(t *testing.T) {
			if _, err := s.UpdatePlan(operator, "pln_nope", proPlan()); !reflect.DeepEqual(fieldErrors(err), []string{"NOT_FOUND@id"}) {
				t.Errorf("UpdatePlan of an unknown plan: %v", err)
			}
			if _, err := s.UpdatePlan(operator, apiws.DefaultPlanID, proPlan()); !reflect.DeepEqual(fieldErrors(err), []string{"INVALID@id"}) {
				t.Errorf("UpdatePlan of pln_default: %v", err)
			}
			if _, err := s.SetAccountPlan(operator, "acc_nope", pro.ID); !reflect.DeepEqual(fieldErrors(err), []string{"NOT_FOUND@accountId"}) {
				t.Errorf("SetAccountPlan of an unknown account: %v", err)
			}
			if _, err := s.SetAccountPlan(operator, accID, "pln_nope"); !reflect.DeepEqual(fieldErrors(err), []string{"NOT_FOUND@planId"}) {
				t.Errorf("SetAccountPlan to an unknown plan: %v", err)
			}
		})

		t.Run("customers see public plans, operators all", func(t *testing.T) {
			in := proPlan()
			in.Name, in.Public = "Enterprise", false
			if _, err := s.CreatePlan(operator, in); err != nil {
				t.Fatal(err)
			}
			names := func(ctx context.Context) []string {
				ps, err := s.Plans(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, p := range ps {
					out = append(out, p.Name)
				}
				return out
			}
			if got := names(customer); !reflect.DeepEqual(got, []string{"free", "Pro"}) {
				t.Errorf("a customer's plans = %v", got)
			}
			if got := names(context.Background()); !reflect.DeepEqual(got, []string{"free", "Pro"}) {
				t.Errorf("plans without credentials = %v", got)
			}
			if got := names(operator); !reflect.DeepEqual(got, []string{"Enterprise", "free", "Other", "Pro"}) {
				t.Errorf("an operator's plans = %v", got)
			}
		})

		t.Run("a new plan's limits apply at once, its price from the next period", func(t *testing.T) {
			if _, err := s.AccountPlan(customer, accID); err != nil { // cached
				t.Fatal(err)
			}
			if _, err := s.SetAccountPlan(operator, accID, pro.ID); err != nil {
				t.Fatal(err)
			}
			p, err := s.AccountPlan(customer, accID)
			if err != nil || p.ID != pro.ID {
				t.Fatalf("plan after SetAccountPlan = %+v, %v", p, err)
			}
			this := apiws.Month.Truncate(now)
			if terms, err := db.BilledTerms(context.Background(), accID, this); err != nil || terms.PlanID != apiws.DefaultPlanID {
				t.Fatalf("terms billed this month = %+v, %v", terms, err)
			}
			next := apiws.Month.Next(this)
			if terms, err := db.BilledTerms(context.Background(), accID, next); err != nil || terms.PlanID != pro.ID || terms.MonthlyPriceMinor != 4900 {
				t.Fatalf("terms billed next month = %+v, %v", terms, err)
			}
		})

		t.Run("an update's limits apply at once, its prices from the next period", func(t *testing.T) {
			in := proPlan()
			in.NumbersLimit, in.MonthlyPriceMinor = 7, 5900
			if _, err := s.UpdatePlan(operator, pro.ID, in); err != nil {
				t.Fatal(err)
			}
			if p, err := s.AccountPlan(customer, accID); err != nil || p.NumbersLimit != 7 {
				t.Fatalf("limits after UpdatePlan = %+v, %v", p, err)
			}
			next := apiws.Month.Next(apiws.Month.Truncate(now))
			if terms, _ := db.BilledTerms(context.Background(), accID, next); terms.MonthlyPriceMinor != 5900 {
				t.Fatalf("next month's price = %+v", terms)
			}
			if terms, _ := db.BilledTerms(context.Background(), accID, next.AddDate(0, -1, 0)); terms.PlanID != apiws.DefaultPlanID {
				t.Fatalf("this month's terms = %+v", terms)
			}
		})
	})
}

func TestCurrency(t *testing.T) {
	for in, want := range map[string]string{"EUR": "EUR", "usd": "USD", " JPY ": "JPY", "CHF": "CHF"} {
		if got, ok := billing.Currency(in); !ok || got != want {
			t.Errorf("Currency(%q) = %q, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "EU", "EURO", "ABC", "123", "XYZ"} {
		if got, ok := billing.Currency(in); ok {
			t.Errorf("Currency(%q) = %q, accepted", in, got)
		}
	}
}
