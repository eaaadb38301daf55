package billing_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// accepted adds n messages accepted on the day of at to the account's
// rollups.
func accepted(t *testing.T, db *storage.DB, accountID string, at time.Time, n int64) {
	t.Helper()
	err := db.AddUsage(context.Background(), []storage.UsageRow{{AccountID: accountID, Period: storage.PeriodDay,
		Start: apiws.Day.Truncate(at), Counts: apiws.UsageCounts{Accepted: n}}})
	if err != nil {
		t.Fatal(err)
	}
}

// closer is a billing service that closes with prefix INV and 19 % tax.
func closer(db *storage.DB, now *time.Time) *billing.Service {
	rate, _ := billing.ParseTaxRate("19")
	return billing.New(db, billing.Options{DefaultPlan: freePlan, TaxRate: rate, InvoicePrefix: "INV", Now: func() time.Time { return *now }})
}

func numbers(invs []*apiws.Invoice) []string {
	var out []string
	for _, inv := range invs {
		out = append(out, inv.Number)
	}
	return out
}

func TestCloseIssuesOneInvoicePerAccountAndMonth(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
		_ = newService(t, db, &now)
		s := closer(db, &now)
		pro, err := s.CreatePlan(operator, proPlan()) // 4900 a month, 1000 messages, 2 each beyond
		if err != nil {
			t.Fatal(err)
		}
		zero := proPlan()
		zero.Name, zero.MonthlyPriceMinor, zero.OveragePriceMinor = "Zero", 0, nil
		zp, err := s.CreatePlan(operator, zero)
		if err != nil {
			t.Fatal(err)
		}
		a, aCtx := newAccount(t, db, "a@example.com") // Pro, 130 messages over
		b, _ := newAccount(t, db, "b@example.com")    // pln_default
		c, _ := newAccount(t, db, "c@example.com")    // Pro, no messages
		d, _ := newAccount(t, db, "d@example.com")    // Zero
		e, _ := newAccount(t, db, "e@example.com")    // Pro from 10 November: billed from December
		for acc, plan := range map[string]string{a: pro.ID, c: pro.ID, d: zp.ID} {
			if _, err := s.SetAccountPlan(operator, acc, plan); err != nil {
				t.Fatal(err)
			}
		}
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		now = nov.AddDate(0, 0, 9)
		if _, err := s.SetAccountPlan(operator, e, pro.ID); err != nil {
			t.Fatal(err)
		}
		accepted(t, db, a, nov.AddDate(0, 0, -1), 10)  // October
		accepted(t, db, a, nov, 1000)                  // 1 November
		accepted(t, db, a, nov.AddDate(0, 0, 29), 130) // 30 November
		accepted(t, db, a, nov.AddDate(0, 1, 0), 50)   // December
		accepted(t, db, b, nov, 5000)
		accepted(t, db, d, nov, 5000)
		accepted(t, db, e, nov, 5000)

		dec := nov.AddDate(0, 1, 0)
		asOf := dec.Add(5 * time.Minute)
		t.Run("a month not yet ended", func(t *testing.T) {
			if _, err := s.Close(ctx, nov, dec.Add(-time.Second)); apiws.ErrorCodeOf(err) != apiws.EINVALID {
				t.Fatalf("Close before the month ended: %v", err)
			}
		})

		invs, err := s.Close(ctx, nov, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if got := numbers(invs); !slices.Equal(got, []string{"INV-2026-000001", "INV-2026-000002"}) {
			t.Fatalf("issued %v", got)
		}
		ia, ic := invs[0], invs[1]
		if *ia.AccountID != a || *ic.AccountID != c {
			t.Fatalf("invoices of %s and %s", *ia.AccountID, *ic.AccountID)
		}
		got, err := db.Invoice(ctx, ia.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []*apiws.InvoiceLine{
			{Description: "Pro plan, November 2026", Quantity: 1, UnitPriceMinor: 4900, AmountMinor: 4900},
			{Description: "Messages beyond the 1000 included", Quantity: 130, UnitPriceMinor: 2, AmountMinor: 260},
		}
		if len(got.Lines) != 2 || *got.Lines[0] != *want[0] || *got.Lines[1] != *want[1] {
			t.Fatalf("lines %+v %+v", got.Lines[0], got.Lines[len(got.Lines)-1])
		}
		// 19 % of 5160 is 980.4.
		if got.SubtotalMinor != 5160 || got.TaxMinor != 980 || got.Amount != 6140 || got.TaxRate != "19" || got.Currency != "EUR" ||
			got.Status != apiws.InvoiceOpen || !got.PeriodStart.Equal(nov) || !got.PeriodEnd.Equal(dec) || !got.IssuedAt.Equal(asOf) ||
			!got.DueAt.Equal(asOf.Add(billing.PaymentTerms)) || got.PaidAt != nil {
			t.Fatalf("invoice %+v", got)
		}
		if ic.Amount != 5831 || len(ic.Lines) != 1 {
			t.Fatalf("a month of Pro without messages: %+v", ic)
		}

		t.Run("a second close issues nothing", func(t *testing.T) {
			again, err := s.Close(ctx, nov, asOf.Add(time.Hour))
			if err != nil || len(again) != 0 {
				t.Fatalf("second close = %v, %v", numbers(again), err)
			}
		})

		t.Run("numbers go on through the year and restart with the next", func(t *testing.T) {
			decInvs, err := s.Close(ctx, dec, dec.AddDate(0, 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			// a, c and e (now on Pro) for December 2026.
			if got := numbers(decInvs); !slices.Equal(got, []string{"INV-2026-000003", "INV-2026-000004", "INV-2026-000005"}) {
				t.Fatalf("December: %v", got)
			}
			jan := dec.AddDate(0, 1, 0)
			janInvs, err := s.Close(ctx, jan, jan.AddDate(0, 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			if got := numbers(janInvs); !slices.Equal(got, []string{"INV-2027-000001", "INV-2027-000002", "INV-2027-000003"}) {
				t.Fatalf("January: %v", got)
			}
		})

		t.Run("the account reads its own invoices only", func(t *testing.T) {
			l, err := s.Invoices(aCtx, a, apiws.Page{First: 2})
			if err != nil || l.Total != 3 || len(l.Items) != 2 || !l.More || l.Items[0].Number != "INV-2027-000001" {
				t.Fatalf("Invoices = %+v, %v", l, err)
			}
			if _, err := s.Invoices(aCtx, c, apiws.Page{First: 2}); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
				t.Fatalf("another account's invoices: %v", err)
			}
			if _, err := s.Invoice(aCtx, ic.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
				t.Fatalf("another account's invoice: %v", err)
			}
			if inv, err := s.Invoice(operator, ic.ID); err != nil || inv.Number != ic.Number {
				t.Fatalf("an operator reads an invoice: %v", err)
			}
		})

		t.Run("invoices and plans are in the account's data", func(t *testing.T) {
			data, err := db.AccountData(ctx, a)
			if err != nil || len(data.Invoices) != 3 || data.Invoices[0].Number != "INV-2026-000001" || data.Invoices[0].Lines[1].Quantity != 130 {
				t.Fatalf("account data invoices = %+v, %v", data.Invoices, err)
			}
			if len(data.Plans) != 1 || data.Plans[0].PlanID != pro.ID || len(data.Payment) != 0 {
				t.Fatalf("account data plans = %+v, payment = %+v", data.Plans, data.Payment)
			}
		})
	})
}

// TestConcurrentClosesLeaveNoGap: two instances closing the same month at
// once issue each account's invoice once, numbered without a gap or a
// duplicate.
func TestConcurrentClosesLeaveNoGap(t *testing.T) {
	ctx := context.Background()
	url := storagetest.URL(t, storage.Postgres)
	db, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
	_ = newService(t, db, &now)
	pro, err := closer(db, &now).CreatePlan(operator, proPlan())
	if err != nil {
		t.Fatal(err)
	}
	const accounts = 40
	for i := range accounts {
		id, _ := newAccount(t, db, fmt.Sprintf("n%d@example.com", i))
		if _, err := closer(db, &now).SetAccountPlan(operator, id, pro.ID); err != nil {
			t.Fatal(err)
		}
	}
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	results := make([][]*apiws.Invoice, 4)
	errs := make([]error, len(results))
	for i := range results {
		wg.Go(func() {
			// Each its own connection pool, as another instance has.
			other, err := storage.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer other.Close()
			results[i], errs[i] = closer(other, &now).Close(ctx, nov, nov.AddDate(0, 1, 0))
		})
	}
	wg.Wait()
	var all []string
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("close %d: %v", i, errs[i])
		}
		all = append(all, numbers(results[i])...)
	}
	slices.Sort(all)
	var want []string
	for i := 1; i <= accounts; i++ {
		want = append(want, fmt.Sprintf("INV-2026-%06d", i))
	}
	if !slices.Equal(all, want) {
		t.Fatalf("the closes issued %d invoices: %v", len(all), all)
	}
	var stored int
	if err := db.SQL().QueryRow("SELECT count(*) FROM invoices").Scan(&stored); err != nil || stored != accounts {
		t.Fatalf("%d invoices stored, %v", stored, err)
	}
	t.Logf("issued by each close: %d %d %d %d", len(results[0]), len(results[1]), len(results[2]), len(results[3]))
}

// TestRunClosesLastMonth: serve's worker closes last month when it starts
// (shortly after the 1st), and records the month closed.
func TestRunClosesLastMonth(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 10, 15, 12, 0, 0, 0, time.UTC)
		_ = newService(t, db, &now)
		s := closer(db, &now)
		pro, err := s.CreatePlan(operator, proPlan())
		if err != nil {
			t.Fatal(err)
		}
		a, _ := newAccount(t, db, "a@example.com")
		if _, err := s.SetAccountPlan(operator, a, pro.ID); err != nil {
			t.Fatal(err)
		}
		nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		now = nov.AddDate(0, 1, 0).Add(30 * time.Second)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx) }()
		poll.Until(t, 10*time.Second, "November closed", func() bool {
			closed, err := db.PeriodClosed(ctx, nov)
			if err != nil {
				t.Fatal(err)
			}
			return closed
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		l, err := s.Invoices(operator, a, apiws.Page{First: 10})
		if err != nil || len(l.Items) != 1 || l.Items[0].Number != "INV-2026-000001" || !l.Items[0].IssuedAt.Equal(now) {
			t.Fatalf("invoices after the worker's close: %+v, %v", l.Items, err)
		}
		if closed, _ := db.PeriodClosed(ctx, nov.AddDate(0, 1, 0)); closed {
			t.Fatal("December, not ended, recorded closed")
		}
	})
}
