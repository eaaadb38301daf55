package storage_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// Every single-object lookup answers ENOTFOUND naming what was looked for,
// whether the object is missing or another account's.
func TestLookupsAnswerNotFound(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("lookup@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		other, c2, s2, a2 := newAccount("lookup-other@example.com")
		if err := db.CreateAccount(ctx, other, c2, s2, a2); err != nil {
			t.Fatal(err)
		}
		ignore := func(_ any, err error) error { return err }
		for _, tt := range []struct {
			name, want string
			err        error
		}{
			{"account", "account not found", ignore(db.Account(ctx, "acc_missing"))},
			{"account by email", "account not found", ignore(db.AccountByEmail(ctx, "nobody@example.com"))},
			{"session by hash", "session not found", ignore(db.SessionByHash(ctx, []byte("nope")))},
			{"api key by hash", "api key not found", ignore(db.APIKeyByHash(ctx, []byte("nope")))},
			{"api key", "api key not found", ignore(db.APIKey(ctx, acc.ID, "key_missing"))},
			{"operator key by hash", "operator key not found", ignore(db.OperatorKeyByHash(ctx, []byte("nope")))},
			{"message", "message not found", ignore(db.Message(ctx, acc.ID, "msg_missing"))},
			{"message by idempotency key", "message not found", ignore(db.MessageByIdempotencyKey(ctx, acc.ID, "k"))},
			{"notice", "notice not found", ignore(db.Notice(ctx, acc.ID, "ntc_missing"))},
			{"number", "number not found", ignore(db.Number(ctx, acc.ID, "num_missing"))},
			{"number by id", "number not found", ignore(db.NumberByID(ctx, "num_missing"))},
			{"debug capture", "debug capture not found", ignore(db.DebugCapture(ctx, acc.ID, "cap_missing"))},
			{"privacy request", "privacy request not found", ignore(db.PrivacyRequest(ctx, acc.ID, "prv_missing"))},
			{"api call", "api call not found", ignore(db.APICall(ctx, acc.ID, "call_missing"))},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if apiws.ErrorCodeOf(tt.err) != apiws.ENOTFOUND || apiws.ErrorMessage(tt.err) != tt.want {
					t.Fatalf("got %v, want ENOTFOUND %q", tt.err, tt.want)
				}
			})
		}
		if acct, err := db.Account(ctx, other.ID); err != nil || acct.ID != other.ID {
			t.Fatalf("Account(other) = %+v, %v", acct, err)
		}
	})
}

// The reads of every dispatcher pass and every send's quota are prepared
// once per connection, whatever their values (the number of messages
// read included), and run on that one statement after.
func TestPassReadsPreparedOnce(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	db.Lookups().SetMaxOpenConns(1)
	ctx := context.Background()
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	var ids []string
	for i := range 3 {
		m := queued(acc, "num_1", fmt.Sprintf("WA%d", i), nil)
		if _, err := db.QueueMessage(ctx, m, []byte("s")); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for n := 1; n <= 3; n++ {
		if ms, err := db.MessagesByIDs(ctx, ids[:n]); err != nil || len(ms) != n {
			t.Fatalf("MessagesByIDs(%d ids) = %d messages, %v", n, len(ms), err)
		}
		if _, err := db.NumberByID(ctx, fmt.Sprintf("num_%d", n)); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("NumberByID of no number: %v", err)
		}
		if _, err := db.AcceptedMessages(ctx, acc.ID, time.Now().AddDate(0, 0, -n), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	var texts []string
	var runs []int64
	onLookups(t, db, "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements", &texts, &runs)
	for _, from := range []string{`FROM "messages" AS "message" WHERE (id = ANY(`, `FROM "numbers" AS "number" WHERE (id = `, `FROM "usage_rollups"`} {
		var found []int64
		for i, text := range texts {
			if strings.Contains(text, from) {
				found = append(found, runs[i])
			}
		}
		if !slices.Equal(found, []int64{3}) {
			t.Errorf("statements %q… prepared and run %v times; want one, run 3 times", from, found)
		}
	}
}

// Every hot statement reaches its rows through an index, whatever the
// table's size when it was planned, once per connection and without its
// values: on tables new and never analyzed, as a new database's are,
// through their keys; on tables of a row, just analyzed (with their
// statistics alone, a plan would scan them whole, and keep doing so as
// they grow), through an index still (maybe not the key's, until the next
// ANALYZE plans it again).
func TestHotReadsPlanThroughIndexes(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	lookups := db.Lookups()
	lookups.SetMaxOpenConns(1)
	ctx := context.Background()
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	m := queued(acc, "num_1", "WA1", nil)
	if _, err := db.QueueMessage(ctx, m, []byte("s")); err != nil {
		t.Fatal(err)
	}
	// The one session of the lookups plans every statement once, at its
	// first run, without its values (as its settings say; set here too, so
	// that the plans below are those made without values whatever the
	// settings).
	if _, err := lookups.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, read := range []func() error{
		func() error { _, err := db.MessagesByIDs(ctx, []string{m.ID}); return err },
		func() error { _, err := db.NextOutbox(ctx, "num_1", 10); return err },
		func() error { _, err := db.CheckSend(ctx, acc.ID, "num_1"); return err },
		func() error { _, err := db.AcceptedMessages(ctx, acc.ID, now.AddDate(0, 0, -1), now); return err },
		func() error { _, err := db.LeaseHeld(ctx, "num_1", "owner", 1, now); return err },
		func() error {
			_, err := db.NumberByID(ctx, "num_1")
			return ignoreNotFound(err)
		},
		func() error {
			_, err := db.ActiveDebugCapture(ctx, "num_1", now)
			return ignoreNotFound(err)
		},
	} {
		if err := read(); err != nil {
			t.Fatal(err)
		}
	}
	keys := map[string]string{
		`FROM "messages"`:       "messages_pkey",
		`FROM "outbox"`:         "outbox_number",
		`FROM accounts AS a`:    "accounts_pkey",
		`FROM "usage_rollups"`:  "usage_rollups_pkey",
		`FROM "number_leases"`:  "number_leases_pkey",
		`FROM "numbers"`:        "numbers_pkey",
		`FROM "debug_captures"`: "debug_captures_number",
	}
	plans := hotPlans(t, db)
	if len(plans) != len(keys) {
		t.Fatalf("%d statements prepared; want the %d hot ones: %v", len(plans), len(keys), slices.Collect(maps.Keys(plans)))
	}
	for from, index := range keys {
		var of []string
		for text, plan := range plans {
			if !strings.Contains(text, from) {
				continue
			}
			of = append(of, text)
			if !strings.Contains(plan, "using "+index) && !strings.Contains(plan, "on "+index) {
				t.Errorf("%s\nreads no %s:\n%s", text, index, plan)
			}
		}
		if len(of) != 1 {
			t.Errorf("%d hot statements read %s; want 1: %q", len(of), from, of)
		}
	}

	if _, err := db.Bun.ExecContext(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	for text, plan := range hotPlans(t, db) {
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s\nscans a table whole:\n%s", text, plan)
		}
	}
}

// hotPlans returns the plan of each statement prepared on the lookups'
// one connection, by its text.
func hotPlans(t *testing.T, db *storage.DB) map[string]string {
	t.Helper()
	var names, texts []string
	var params []int
	onLookups(t, db, "SELECT name, statement, cardinality(parameter_types) FROM pg_prepared_statements", &names, &texts, &params)
	plans := map[string]string{}
	for i, name := range names {
		// The values do not matter: the plan is the one made without them.
		nulls := strings.TrimSuffix(strings.Repeat("NULL, ", params[i]), ", ")
		var plan []string
		onLookups(t, db, "EXPLAIN EXECUTE "+name+"("+nulls+")", &plan)
		plans[texts[i]] = strings.Join(plan, "\n")
	}
	return plans
}

// onLookups runs query on the lookups' connection and scans its rows into
// dest, one slice a column.
func onLookups(t *testing.T, db *storage.DB, query string, dest ...any) {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Lookups().QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Bun.ScanRows(ctx, rows, dest...); err != nil {
		t.Fatal(err)
	}
}

// ignoreNotFound is err unless it is ENOTFOUND.
func ignoreNotFound(err error) error {
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil
	}
	return err
}
