package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestPurgeTakesEventsInFlight: on PostgreSQL a message and an event name
// their account without a foreign key; purging the account while a
// transaction is writing a message and its event still leaves neither
// behind, whether that transaction bumped an existing counter or made the
// account's first, and a message that comes after the purge is refused.
func TestPurgeTakesEventsInFlight(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	event := func(acc string) []*apiws.LogEvent {
		return []*apiws.LogEvent{{AccountID: acc, Type: apiws.EventTypeNumberStatus, NumberID: "num_purged", At: time.Now().UTC()}}
	}
	inbound := func(acc string) *apiws.Message {
		now, waID := time.Now().UTC(), apiws.NewID("wa")
		return &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: "num_purged", Direction: apiws.Inbound,
			Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
	}
	count := func(table, column, acc string) int {
		t.Helper()
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+column+" = $1", acc).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		before int // events logged before the one in flight
	}{{"counter bumped", 2}, {"first counter", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			acc := storagetest.Account(t, db)
			for range tc.before {
				if err := db.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return db.AppendEventsIn(ctx, tx, event(acc))
				}); err != nil {
					t.Fatal(err)
				}
			}
			tx, err := db.Bun.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback() }()
			// As InsertInbound writes a message: the message, then its event.
			m := inbound(acc)
			if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.AppendEventsIn(ctx, tx, []*apiws.LogEvent{{AccountID: acc, Type: apiws.EventTypeMessageReceived,
				MessageID: m.ID, NumberID: m.NumberID, Status: apiws.StatusReceived, At: *m.ReceivedAt}}); err != nil {
				t.Fatal(err)
			}
			purged := make(chan error, 1)
			go func() {
				purged <- db.PurgeAccount(ctx, acc, &apiws.AuditEntry{Actor: "system", Action: "purge", At: time.Now().UTC()})
			}()
			// The purge waits for the transaction (its counter's lock, or
			// the account's key share) before it can take the account.
			poll.Until(t, 10*time.Second, "the purge waiting for the transaction writing a message", func() bool {
				var waiting int
				err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
					WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
				return err == nil && waiting > 0
			})
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-purged; err != nil {
				t.Fatal(err)
			}
			for table, column := range map[string]string{"messages": "account_id", "log_events": "account_id", "event_counters": "account_id", "accounts": "id"} {
				if n := count(table, column, acc); n != 0 {
					t.Errorf("%s: %d rows of the purged account left", table, n)
				}
			}

			if _, err := db.InsertInbound(ctx, inbound(acc), nil); err == nil {
				t.Error("a message of the purged account was written")
			}
			for _, table := range []string{"messages", "log_events"} {
				if n := count(table, "account_id", acc); n != 0 {
					t.Errorf("%s: %d rows of the purged account after a write", table, n)
				}
			}
		})
	}
}

// TestPurgeBetweenMessageAndEvent: a transaction that inserted a message
// before the purge and bumps its account's counter after it fails whole.
func TestPurgeBetweenMessageAndEvent(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	acc := storagetest.Account(t, db)
	now, waID := time.Now().UTC(), apiws.NewID("wa")
	m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: "num_purged", Direction: apiws.Inbound,
		Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
	tx, err := db.Bun.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.PurgeAccount(ctx, acc, &apiws.AuditEntry{Actor: "system", Action: "purge", At: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	err = db.AppendEventsIn(ctx, tx, []*apiws.LogEvent{{AccountID: acc, Type: apiws.EventTypeMessageReceived,
		MessageID: m.ID, NumberID: m.NumberID, Status: apiws.StatusReceived, At: now}})
	if err == nil {
		t.Fatal("the event of a purged account's message was logged")
	}
	_ = tx.Rollback()
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT (SELECT count(*) FROM messages WHERE account_id = $1) + (SELECT count(*) FROM log_events WHERE account_id = $1)", acc).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d messages and events of the purged account (%v)", n, err)
	}
}

// TestPurgeWaitsForInboundContent: an inbound message's transaction keeps
// its content (a row with a key to the account) after bumping the
// account's counter. A purge that comes between the two waits for it to
// end, and takes everything; it must not take the account first and wait
// on the counter while the transaction waits on the account (a deadlock).
func TestPurgeWaitsForInboundContent(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	db.KeepContent(func(*apiws.LogEvent) []byte { return []byte("sealed") }, func(*apiws.LogEvent) []byte { return nil }, time.Hour)
	acc := storagetest.Account(t, db)
	text := "hello"
	inbound := func() error {
		now, waID := time.Now().UTC(), apiws.NewID("wa")
		_, err := db.InsertInbound(ctx, &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: "num_purged",
			Direction: apiws.Inbound, Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID,
			ReceivedAt: &now}, &apiws.MessageContent{Text: &text})
		return err
	}
	if err := inbound(); err != nil { // the account's counter exists
		t.Fatal(err)
	}
	waiting := func(n int) func() bool {
		return func() bool {
			var k int
			err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&k)
			return err == nil && k >= n
		}
	}
	// Another session holds the content's table: the inbound transaction
	// stops there, after its counter's bump.
	blocker, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback() }()
	if _, err := blocker.ExecContext(ctx, "LOCK TABLE inbound_transit IN SHARE MODE"); err != nil {
		t.Fatal(err)
	}
	inserted := make(chan error, 1)
	go func() { inserted <- inbound() }()
	poll.Until(t, 10*time.Second, "the inbound transaction waiting to keep its content", waiting(1))
	purged := make(chan error, 1)
	go func() {
		purged <- db.PurgeAccount(ctx, acc, &apiws.AuditEntry{Actor: "system", Action: "purge", At: time.Now().UTC()})
	}()
	poll.Until(t, 10*time.Second, "the purge waiting for the inbound transaction", waiting(2))
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-inserted; err != nil {
		t.Errorf("inbound message: %v", err)
	}
	if err := <-purged; err != nil {
		t.Errorf("purge: %v", err)
	}
	for _, table := range []string{"messages", "log_events", "inbound_transit", "event_counters"} {
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE account_id = $1", acc).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows of the purged account left", table, n)
		}
	}
}
