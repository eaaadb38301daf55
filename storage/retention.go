package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// purgeBatch bounds every retention delete, so that a sweep never holds a
// long transaction or a long SQLite write lock: other writers get their
// turn between batches.
const purgeBatch = 500

// notHeld is the condition, on a table aliased t, that leaves out the rows
// of accounts under a legal hold.
const notHeld = "NOT EXISTS (SELECT 1 FROM accounts h WHERE h.id = t.account_id AND h.legal_hold)"

// deleteInBatches deletes the rows of table (aliased t in where) that match
// where, purgeBatch at a time by key, and returns how many it deleted.
func (db *DB) deleteInBatches(ctx context.Context, table, key, where string, args ...any) (int, error) {
	q := fmt.Sprintf("DELETE FROM %[1]s WHERE %[2]s IN (SELECT t.%[2]s FROM %[1]s t WHERE %[3]s LIMIT %[4]d)",
		table, key, where, purgeBatch)
	total := 0
	for {
		res, err := db.Bun.NewRaw(q, args...).Exec(ctx)
		if err != nil {
			return total, translate(err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < purgeBatch {
			return total, nil
		}
	}
}

// DeleteEventsBefore deletes the events about no message (number status,
// group changes) logged before cutoff, except those of accounts under a
// legal hold; a message's events go with it (DeleteMessagesBefore).
func (db *DB) DeleteEventsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	res, err := db.Bun.NewRaw("DELETE FROM log_events WHERE message_id IS NULL AND at < ? AND NOT EXISTS "+
		"(SELECT 1 FROM accounts h WHERE h.id = log_events.account_id AND h.legal_hold)", cutoff).Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// DeleteAPICallsBefore deletes API calls made before cutoff, except those
// of accounts under a legal hold.
func (db *DB) DeleteAPICallsBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return db.deleteInBatches(ctx, "api_calls", "id", "t.at < ? AND "+notHeld, cutoff)
}

// DeleteUsageBefore deletes usage rollups that start before cutoff, except
// those of accounts under a legal hold.
func (db *DB) DeleteUsageBefore(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		var keys []struct {
			AccountID string    `bun:"account_id"`
			Period    string    `bun:"period"`
			Start     time.Time `bun:"start"`
		}
		err := db.Bun.NewRaw("SELECT t.account_id, t.period, t.start FROM usage_rollups t WHERE t.start < ? AND "+notHeld+
			fmt.Sprintf(" LIMIT %d", purgeBatch), cutoff).Scan(ctx, &keys)
		if err != nil {
			return total, translate(err)
		}
		if len(keys) == 0 {
			return total, nil
		}
		err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			for _, k := range keys {
				if _, err := tx.NewDelete().Model((*usageRollup)(nil)).
					Where("account_id = ? AND period = ? AND start = ?", k.AccountID, k.Period, k.Start).Exec(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(keys)
	}
}

// DeleteMessagesBefore deletes the metadata of messages queued or received
// before cutoff, with everything kept about them (events, outbox, captured
// content, sandbox record), except those of accounts under a legal hold.
func (db *DB) DeleteMessagesBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return db.deleteMessages(ctx, enteredAt+" < ? AND "+notHeld, cutoff)
}

// deleteMessages deletes, in batches, the messages (aliased t) matching
// where and every row about them.
func (db *DB) deleteMessages(ctx context.Context, where string, args ...any) (int, error) {
	total := 0
	for {
		var ids []string
		err := db.Bun.NewRaw("SELECT t.id FROM messages t WHERE "+where+fmt.Sprintf(" LIMIT %d", purgeBatch), args...).Scan(ctx, &ids)
		if err != nil {
			return total, translate(err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			for _, table := range []string{"log_events", "captured_contents", "sandbox_transmissions", "outbox"} {
				if _, err := tx.NewRaw("DELETE FROM "+table+" WHERE message_id IN (?)", bun.List(ids)).Exec(ctx); err != nil {
					return err
				}
			}
			_, err := tx.NewRaw("DELETE FROM messages WHERE id IN (?)", bun.List(ids)).Exec(ctx)
			return err
		})
		if err != nil {
			return total, err
		}
		total += len(ids)
	}
}

// DeleteExpiredExports deletes privacy exports that expired by now.
func (db *DB) DeleteExpiredExports(ctx context.Context, now time.Time) (int, error) {
	return db.deleteInBatches(ctx, "exports", "request_id", "t.expires_at <= ? AND "+notHeld, now)
}

// DeleteEndedSessions deletes dashboard sessions that expired or were
// revoked by now.
func (db *DB) DeleteEndedSessions(ctx context.Context, now time.Time) (int, error) {
	return db.deleteInBatches(ctx, "sessions", "id", "(t.expires_at <= ? OR t.revoked_at <= ?) AND "+notHeld, now, now)
}

// DeleteInvoicesBefore deletes financial records issued before cutoff,
// except those of accounts under a legal hold.
func (db *DB) DeleteInvoicesBefore(ctx context.Context, cutoff time.Time) (int, error) {
	return db.deleteInBatches(ctx, "invoices", "id", "t.issued_at < ? AND (t.account_id IS NULL OR "+notHeld+")", cutoff)
}

// ExpiredVerifications returns the requests still waiting for a code that
// expired by now.
func (db *DB) ExpiredVerifications(ctx context.Context, now time.Time) ([]*apiws.PrivacyRequest, error) {
	var rs []*apiws.PrivacyRequest
	err := db.Bun.NewSelect().Model(&rs).
		Where("status = ? AND code_expires_at <= ?", apiws.RequestPendingVerification, now).
		OrderExpr("id").Limit(purgeBatch).Scan(ctx)
	return rs, translate(err)
}

// ErasuresDue returns the ids of accounts whose erasure became final by
// now and which are not under a legal hold.
func (db *DB) ErasuresDue(ctx context.Context, now time.Time) ([]string, error) {
	var ids []string
	err := db.Bun.NewSelect().Model((*apiws.Account)(nil)).Column("id").
		Where("status = ? AND deletion_scheduled_at <= ? AND NOT legal_hold", apiws.AccountPendingDeletion, now).
		OrderExpr("id").Limit(purgeBatch).Scan(ctx, &ids)
	return ids, translate(err)
}

// PurgeAccount deletes every row of the account in every table, in
// batches, its WhatsApp device keys included. Its invoices stay, under
// their pseudonym only. audit is written once the account is gone; it must
// not name the account.
func (db *DB) PurgeAccount(ctx context.Context, accountID string, audit *apiws.AuditEntry) error {
	if _, err := db.deleteInBatches(ctx, "api_calls", "id", "t.account_id = ?", accountID); err != nil {
		return err
	}
	if _, err := db.deleteMessages(ctx, "t.account_id = ?", accountID); err != nil {
		return err
	}
	if _, err := db.deleteInBatches(ctx, "audit_entries", "id", "t.account_id = ?", accountID); err != nil {
		return err
	}
	var nums []*apiws.Number
	if err := db.Bun.NewSelect().Model(&nums).Column("id", "jid").Where("account_id = ?", accountID).Scan(ctx); err != nil {
		return translate(err)
	}
	devices, err := db.tableExists(ctx, "whatsmeow_device")
	if err != nil {
		return err
	}
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, n := range nums {
			if _, err := tx.NewRaw("DELETE FROM sandbox_transmissions WHERE number_id = ?", n.ID).Exec(ctx); err != nil {
				return err
			}
			// A lease has no foreign key (it outlives its number for a
			// heartbeat): an owner still holding it would keep the id.
			if _, err := tx.NewRaw("DELETE FROM number_leases WHERE number_id = ?", n.ID).Exec(ctx); err != nil {
				return err
			}
			if devices && n.JID != nil {
				if err := forgetDevice(ctx, tx, *n.JID); err != nil {
					return err
				}
			}
		}
		if _, err := tx.NewUpdate().Model((*apiws.Invoice)(nil)).Set("account_id = NULL").Where("account_id = ?", accountID).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewRaw("DELETE FROM audit_entries WHERE account_id = ?", accountID).Exec(ctx); err != nil {
			return err
		}
		if db.Dialect == Postgres {
			// A transaction writing the account's messages and events
			// holds its counter from its bump to its commit, and may still
			// insert a row that checks its key to the account (its inbound
			// content's). Taking the counter first, the purge waits for
			// it to end; taking the account first, it would wait on the
			// counter while the transaction waits on the account (a
			// deadlock). One that bumps after this waits for the purge,
			// then fails.
			if _, err := tx.NewRaw("SELECT account_id FROM event_counters WHERE account_id = ? FOR UPDATE", accountID).Exec(ctx); err != nil {
				return err
			}
		}
		// Every other table of the account hangs off it with ON DELETE
		// CASCADE, or on PostgreSQL goes with it by trigger (messages and
		// events: migration account_checks).
		if _, err := tx.NewDelete().Model((*apiws.Account)(nil)).Where("id = ?", accountID).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// tableExists reports whether a table of that name is in the database.
func (db *DB) tableExists(ctx context.Context, name string) (bool, error) {
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if db.Dialect == Postgres {
		q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	var n int
	err := db.Bun.NewRaw(q, name).Scan(ctx, &n)
	return n > 0, translate(err)
}
