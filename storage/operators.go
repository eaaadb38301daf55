package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// CreateOperatorKey writes an operator key and its audit entry.
func (db *DB) CreateOperatorKey(ctx context.Context, k *apiws.OperatorKey, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, k)
}

// OperatorKeyByHash finds an operator key by its secret's hash, or ENOTFOUND.
func (db *DB) OperatorKeyByHash(ctx context.Context, hash []byte) (*apiws.OperatorKey, error) {
	return selectOne[apiws.OperatorKey](ctx, db.Bun, "operator key", "secret_hash = ?", hash)
}

// OperatorKeys lists every operator key, oldest first.
func (db *DB) OperatorKeys(ctx context.Context) ([]*apiws.OperatorKey, error) {
	var ks []*apiws.OperatorKey
	err := db.Bun.NewSelect().Model(&ks).OrderExpr("created_at, id").Scan(ctx)
	return ks, translate(err)
}

// RevokeOperatorKey marks an operator key revoked (keeping the first
// revocation time, and writing the audit entry only then) and returns it, or
// ENOTFOUND.
func (db *DB) RevokeOperatorKey(ctx context.Context, id string, at time.Time, audit *apiws.AuditEntry) (*apiws.OperatorKey, error) {
	var k *apiws.OperatorKey
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*apiws.OperatorKey)(nil)).
			Set("revoked_at = ?", at).Where("id = ? AND revoked_at IS NULL", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := appendAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		k = new(apiws.OperatorKey)
		return notFound(tx.NewSelect().Model(k).Where("id = ?", id).Scan(ctx), "operator key")
	})
	return k, err
}
