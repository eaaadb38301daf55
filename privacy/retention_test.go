package privacy_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/privacy"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func ptr[T any](v T) *T { return &v }

// asOf is the sweep's "now" in these tests.
var asOf = time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)

// seed writes an account with data on both sides of every retention
// period as of asOf: one row just too old, one just young enough.
func seed(t *testing.T, db *storage.DB, email string, hold bool) string {
	t.Helper()
	ctx := context.Background()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Acme", Email: email, Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: asOf.AddDate(-9, 0, 0), AgeCheckedAt: asOf.AddDate(-9, 0, 0), LegalHold: hold}
	sess := func(expires time.Time) *apiws.Session {
		return &apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(apiws.NewID("t")),
			CreatedAt: expires.Add(-time.Hour), ExpiresAt: expires}
	}
	err := db.CreateAccount(ctx, acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: acc.CreatedAt},
		sess(asOf.Add(-time.Minute)), &apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: acc.CreatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, sess(asOf.Add(time.Hour)), &apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "login", At: asOf}); err != nil {
		t.Fatal(err)
	}
	tooOld, young := asOf.AddDate(0, -12, 0).Add(-time.Hour), asOf.AddDate(0, -12, 0).Add(time.Hour)
	var calls []*apiws.APICall
	var rows []storage.UsageRow
	for _, at := range []time.Time{tooOld, young} {
		calls = append(calls, &apiws.APICall{ID: apiws.NewID(apiws.PrefixAPICall), AccountID: acc.ID, OperationType: "query", OK: true, At: at})
		rows = append(rows, storage.UsageRow{AccountID: acc.ID, Period: storage.PeriodDay, Start: at, Counts: apiws.UsageCounts{APICalls: 1}})
		m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc.ID, NumberID: "num_x", Direction: apiws.Inbound,
			Peer: "+14155550123", Kind: apiws.KindText, Status: apiws.StatusReceived, ReceivedAt: ptr(at)}
		if _, err := db.InsertInbound(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.WriteUsage(ctx, calls, rows); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{asOf.AddDate(-7, 0, 0).Add(-time.Hour), asOf.AddDate(-7, 0, 0).Add(time.Hour)} {
		if err := db.CreateInvoice(ctx, &apiws.Invoice{ID: apiws.NewID("inv"), AccountID: &acc.ID, Amount: 100, Currency: "EUR", IssuedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	return acc.ID
}

// count counts the account's rows in table.
func count(t *testing.T, db *storage.DB, table, accountID string) int {
	t.Helper()
	var n int
	if err := db.Bun.NewRaw("SELECT count(*) FROM "+table+" WHERE account_id = ?", accountID).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSweepEnforcesEveryPeriod(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		free := seed(t, db, "free@example.com", false)
		held := seed(t, db, "held@example.com", true)

		r, err := privacy.Sweep(ctx, db, asOf)
		if err != nil {
			t.Fatal(err)
		}
		if r.Skipped || r.APICalls != 1 || r.Messages != 1 || r.Invoices != 1 || r.Sessions != 1 {
			t.Errorf("report = %+v", r)
		}
		for _, c := range []struct {
			table      string
			free, held int
		}{
			{"api_calls", 1, 2},
			{"messages", 1, 2},
			{"log_events", 1, 2},
			{"usage_rollups", 1, 2},
			{"invoices", 1, 2},
			{"sessions", 1, 2},
		} {
			if n := count(t, db, c.table, free); n != c.free {
				t.Errorf("%s of the account = %d; want %d", c.table, n, c.free)
			}
			if n := count(t, db, c.table, held); n != c.held {
				t.Errorf("%s of the held account = %d; want %d (a legal hold keeps all)", c.table, n, c.held)
			}
		}
		// A second sweep at the same time finds nothing more to do.
		if r, err := privacy.Sweep(ctx, db, asOf); err != nil || r.APICalls+r.Messages+r.Invoices+r.Sessions+r.UsageRollups != 0 {
			t.Errorf("second sweep = %+v, %v", r, err)
		}
	})
}

func TestSweepPurgesErasedAccountsAfterTheGrace(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		id := seed(t, db, "erased@example.com", false)
		acc, err := db.Account(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreateInvoice(ctx, &apiws.Invoice{ID: apiws.NewID("inv"), AccountID: &id, Amount: 100, Currency: "EUR", IssuedAt: asOf}); err != nil {
			t.Fatal(err)
		}
		at := asOf.Add(apiws.ErasureGrace)
		acc.Status, acc.DeletionScheduledAt = apiws.AccountPendingDeletion, &at
		if err := db.UpdateAccountState(ctx, acc); err != nil {
			t.Fatal(err)
		}
		if r, err := privacy.Sweep(ctx, db, at.Add(-time.Second)); err != nil || r.AccountsPurged != 0 {
			t.Fatalf("sweep within the grace = %+v, %v", r, err)
		}
		if r, err := privacy.Sweep(ctx, db, at); err != nil || r.AccountsPurged != 1 {
			t.Fatalf("sweep at the end of the grace = %+v, %v", r, err)
		}
		if _, err := db.Account(ctx, id); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Errorf("the account after the purge: %v", err)
		}
		// The recent invoice stays, pseudonymised; the ones over 7 years
		// old by then are gone.
		var refs []string
		if err := db.Bun.NewRaw("SELECT account_ref FROM invoices WHERE account_id IS NULL").Scan(ctx, &refs); err != nil || len(refs) != 1 {
			t.Errorf("pseudonymised invoices = %v, %v", refs, err)
		}
	})
}

func TestOneSweepAtATime(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		unlock, ok, err := db.TryLock(ctx, "retention-sweep", time.Minute)
		if err != nil || !ok {
			t.Fatalf("TryLock = %v, %v", ok, err)
		}
		if r, err := privacy.Sweep(ctx, db, asOf); err != nil || !r.Skipped {
			t.Errorf("sweep while another holds the lock = %+v, %v", r, err)
		}
		unlock()
		if r, err := privacy.Sweep(ctx, db, asOf); err != nil || r.Skipped {
			t.Errorf("sweep after the lock is released = %+v, %v", r, err)
		}
	})
}
