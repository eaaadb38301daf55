package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// CreateSession writes a session and its audit entry.
func (db *DB) CreateSession(ctx context.Context, s *apiws.Session, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, s)
}

// SessionByHash finds a session by its token's hash, or ENOTFOUND.
func (db *DB) SessionByHash(ctx context.Context, hash []byte) (*apiws.Session, error) {
	return selectOne[apiws.Session](ctx, db.Bun, "session", "token_hash = ?", hash)
}

// RevokeSession marks a session revoked.
func (db *DB) RevokeSession(ctx context.Context, id string, at time.Time) error {
	_, err := db.Bun.NewUpdate().Model((*apiws.Session)(nil)).
		Set("revoked_at = ?", at).Where("id = ? AND revoked_at IS NULL", id).Exec(ctx)
	return translate(err)
}

// CreateAPIKey writes a key and its audit entry.
func (db *DB) CreateAPIKey(ctx context.Context, k *apiws.APIKey, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, k)
}

// APIKeyByHash finds a key by its secret's hash, or ENOTFOUND.
func (db *DB) APIKeyByHash(ctx context.Context, hash []byte) (*apiws.APIKey, error) {
	return selectOne[apiws.APIKey](ctx, db.Bun, "api key", "secret_hash = ?", hash)
}

// APIKey returns one key of the account, or ENOTFOUND (also when it belongs
// to another account).
func (db *DB) APIKey(ctx context.Context, accountID, id string) (*apiws.APIKey, error) {
	return selectOwned[apiws.APIKey](ctx, db.Bun, "api key", accountID, id)
}

// APIKeys lists an account's keys, newest first.
func (db *DB) APIKeys(ctx context.Context, accountID string) ([]*apiws.APIKey, error) {
	var ks []*apiws.APIKey
	err := db.Bun.NewSelect().Model(&ks).Where("account_id = ?", accountID).OrderExpr("id DESC").Scan(ctx)
	return ks, translate(err)
}

// APIKeysByIDs returns the keys with the ids; missing ones are left out.
func (db *DB) APIKeysByIDs(ctx context.Context, ids []string) ([]*apiws.APIKey, error) {
	var ks []*apiws.APIKey
	err := db.Bun.NewSelect().Model(&ks).Where("id IN (?)", bun.List(ids)).Scan(ctx)
	return ks, translate(err)
}

// RevokeAPIKey marks one of the account's keys revoked (keeping the first
// revocation time) and returns it, or ENOTFOUND.
func (db *DB) RevokeAPIKey(ctx context.Context, accountID, id string, at time.Time, audit *apiws.AuditEntry) (*apiws.APIKey, error) {
	var k *apiws.APIKey
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*apiws.APIKey)(nil)).
			Set("revoked_at = ?", at).
			Where("id = ? AND account_id = ? AND revoked_at IS NULL", id, accountID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if err := appendAudit(ctx, tx, audit); err != nil {
				return err
			}
		}
		k = new(apiws.APIKey)
		err = tx.NewSelect().Model(k).Where("id = ? AND account_id = ?", id, accountID).Scan(ctx)
		return notFound(err, "api key")
	})
	return k, err
}

// TouchAPIKeys sets last_used_at of many keys in one transaction; the
// server batches these so a request never waits for this write.
func (db *DB) TouchAPIKeys(ctx context.Context, used map[string]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for id, at := range used {
			_, err := tx.NewUpdate().Model((*apiws.APIKey)(nil)).
				Set("last_used_at = ?", at).
				Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at).Exec(ctx)
			if err != nil {
				return err
			}
		}
		return nil
	})
}
