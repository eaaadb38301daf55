package storage

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// appendAudit appends entries to the audit log inside tx; none is fine.
func appendAudit(ctx context.Context, tx bun.Tx, entries ...*apiws.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := tx.NewInsert().Model(&entries).Exec(ctx)
	return err
}

// insertAudited inserts the models, in order, and the audit entry of the
// action that made them, in one transaction.
func (db *DB) insertAudited(ctx context.Context, audit *apiws.AuditEntry, models ...any) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for _, m := range models {
			if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
				return err
			}
		}
		return appendAudit(ctx, tx, audit)
	})
}
