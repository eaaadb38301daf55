package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestIdleTransactionsReleaseTheirLocks: an instance that stops between
// the statements of a transaction (paused, hung) loses its session after
// the idle timeout, and with it its row locks, so the others go on.
func TestIdleTransactionsReleaseTheirLocks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := storagetest.URL(t, storage.Postgres)
	db, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var got string
	if err := db.SQL().QueryRowContext(ctx, "SHOW idle_in_transaction_session_timeout").Scan(&got); err != nil || got != storage.IdleInTransactionTimeout {
		t.Fatalf("idle_in_transaction_session_timeout = %q, %v; want %s", got, err, storage.IdleInTransactionTimeout)
	}

	// The same with a short timeout from the URL, to watch it act.
	short, err := storage.Open(ctx, url+"&idle_in_transaction_session_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer short.Close()
	if _, err := short.SQL().ExecContext(ctx, "CREATE TABLE idle_probe (id INT PRIMARY KEY, n INT); INSERT INTO idle_probe VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	stalled, err := short.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Rollback()
	if _, err := stalled.ExecContext(ctx, "UPDATE idle_probe SET n = n + 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	// The stalled transaction holds the row; this update waits for it,
	// and goes through once PostgreSQL ended the idle session.
	if _, err := short.SQL().ExecContext(ctx, "UPDATE idle_probe SET n = n + 10 WHERE id = 1"); err != nil {
		t.Fatalf("the row stayed locked: %v", err)
	}
	var n int
	if err := short.SQL().QueryRowContext(ctx, "SELECT n FROM idle_probe WHERE id = 1").Scan(&n); err != nil || n != 10 {
		t.Fatalf("n = %d, %v; want 10 (the stalled update rolled back)", n, err)
	}
}
