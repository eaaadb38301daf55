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

// On PostgreSQL a message and an event name their account without a
// foreign key (migration account_checks): these tests purge an account
// while a transaction is writing them.

// purgeInbound is a new inbound message of the account.
func purgeInbound(acc *apiws.Account) *apiws.Message {
	return inbound(acc, "num_purged", apiws.NewID("wa"))
}

// received is m's MESSAGE_RECEIVED event.
func received(m *apiws.Message) []*apiws.LogEvent {
	return []*apiws.LogEvent{{AccountID: m.AccountID, Type: apiws.EventTypeMessageReceived, MessageID: m.ID, NumberID: m.NumberID,
		Status: apiws.StatusReceived, At: *m.ReceivedAt}}
}

// purgeAsync purges the account in the background; its outcome comes on
// the channel.
func purgeAsync(db *storage.DB, acc string) chan error {
	done := make(chan error, 1)
	go func() {
		done <- db.PurgeAccount(context.Background(), acc, &apiws.AuditEntry{Actor: "system", Action: "purge", At: time.Now().UTC()})
	}()
	return done
}

// waitForLockWaiters waits until n sessions of the database wait on a lock.
func waitForLockWaiters(t *testing.T, db *storage.DB, n int, what string) {
	t.Helper()
	poll.Until(t, 10*time.Second, what, func() bool {
		var k int
		err := db.SQL().QueryRow(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&k)
		return err == nil && k >= n
	})
}

// noRowsOf fails the test for each table that holds rows of the account
// (by account_id; accounts by id).
func noRowsOf(t *testing.T, db *storage.DB, acc, when string, tables ...string) {
	t.Helper()
	for _, table := range tables {
		column := "account_id"
		if table == "accounts" {
			column = "id"
		}
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM "+table+" WHERE "+column+" = $1", acc).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s: %d rows of the purged account %s", table, n, when)
		}
	}
}

// TestPurgeTakesEventsInFlight: purging the account while a transaction
// is writing a message and its event still leaves neither behind,
// whether that transaction bumped an existing counter or made the
// account's first, and a message that comes after the purge is refused.
func TestPurgeTakesEventsInFlight(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		before int // events logged before the one in flight
	}{{"counter bumped", 2}, {"first counter", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			acc := &apiws.Account{ID: storagetest.Account(t, db)}
			for range tc.before {
				if err := db.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
					return db.AppendEventsIn(ctx, tx, []*apiws.LogEvent{{AccountID: acc.ID, Type: apiws.EventTypeNumberStatus,
						NumberID: "num_purged", At: time.Now().UTC()}})
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
			m := purgeInbound(acc)
			if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if err := db.AppendEventsIn(ctx, tx, received(m)); err != nil {
				t.Fatal(err)
			}
			purged := purgeAsync(db, acc.ID)
			// The purge waits for the transaction (its counter's lock, or
			// the account's key share) before it can take the account.
			waitForLockWaiters(t, db, 1, "the purge waiting for the transaction writing a message")
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-purged; err != nil {
				t.Fatal(err)
			}
			noRowsOf(t, db, acc.ID, "left", "messages", "log_events", "event_counters", "accounts")

			if _, err := db.InsertInbound(ctx, purgeInbound(acc), nil); err == nil {
				t.Error("a message of the purged account was written")
			}
			noRowsOf(t, db, acc.ID, "after a write", "messages", "log_events")
		})
	}
}

// TestPurgeBetweenMessageAndEvent: a transaction that inserted a message
// before the purge and bumps its account's counter after it fails whole.
func TestPurgeBetweenMessageAndEvent(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	m := purgeInbound(acc)
	tx, err := db.Bun.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-purgeAsync(db, acc.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.AppendEventsIn(ctx, tx, received(m)); err == nil {
		t.Fatal("the event of a purged account's message was logged")
	}
	_ = tx.Rollback()
	noRowsOf(t, db, acc.ID, "left", "messages", "log_events")
}

// purgeMeanwhile holds another session's lock (lock, with args) so that
// write stops on it, purges the account while write waits, then lets
// write go on; it returns write's outcome and the purge's.
func purgeMeanwhile(t *testing.T, db *storage.DB, acc string, lock string, args []any, write func() error) (writeErr, purgeErr error) {
	t.Helper()
	blocker, err := db.SQL().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback() }()
	if _, err := blocker.Exec(lock, args...); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- write() }()
	waitForLockWaiters(t, db, 1, "the write waiting for the other session")
	purged := purgeAsync(db, acc)
	waitForLockWaiters(t, db, 2, "the purge waiting for the write")
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	purgeErr = <-purged
	return <-written, purgeErr
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
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	text := "hello"
	insert := func() error {
		_, err := db.InsertInbound(ctx, purgeInbound(acc), &apiws.MessageContent{Text: &text})
		return err
	}
	if err := insert(); err != nil { // the account's counter exists
		t.Fatal(err)
	}
	// The other session holds the content's table: the inbound transaction
	// stops there, after its counter's bump.
	inserted, purged := purgeMeanwhile(t, db, acc.ID, "LOCK TABLE inbound_transit IN SHARE MODE", nil, insert)
	if inserted != nil {
		t.Errorf("inbound message: %v", inserted)
	}
	if purged != nil {
		t.Errorf("purge: %v", purged)
	}
	noRowsOf(t, db, acc.ID, "left", "messages", "log_events", "inbound_transit", "event_counters")
}

// TestPurgeWaitsForPipelinedQueue: the journal's pipelined transaction
// queues its messages in one round and bumps their account's counter in
// the next. Stopped between the two (another session holds the counter)
// while the account is purged, it leaves nothing of the account behind,
// whichever of the two gets the counter first.
func TestPurgeWaitsForPipelinedQueue(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	queue := func(waIDs ...string) error {
		b := &storage.Batch{}
		for _, waID := range waIDs {
			b.Queue = append(b.Queue, &storage.QueueWrite{Message: queued(acc, "num_purged", waID, nil), Sealed: []byte(waID)})
		}
		_, err := db.Write(ctx, b)
		return err
	}
	if err := queue("WA0"); err != nil { // the account's counter exists, for the other session to hold
		t.Fatal(err)
	}
	written, purged := purgeMeanwhile(t, db, acc.ID, "SELECT last_seq FROM event_counters WHERE account_id = $1 FOR UPDATE",
		[]any{acc.ID}, func() error { return queue("WA1", "WA2") })
	if purged != nil {
		t.Errorf("purge: %v", purged)
	}
	t.Logf("the queue's transaction: %v", written)
	noRowsOf(t, db, acc.ID, "left", "messages", "outbox", "log_events", "event_counters", "accounts")
}
