package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// CreateDebugCapture writes a capture grant.
func (db *DB) CreateDebugCapture(ctx context.Context, c *apiws.DebugCapture, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, c)
}

// ActiveDebugCapture returns the number's capture in force at now, or nil.
func (db *DB) ActiveDebugCapture(ctx context.Context, numberID string, now time.Time) (*apiws.DebugCapture, error) {
	var cs []*apiws.DebugCapture
	q := db.hotQuery("ActiveDebugCapture", func() string {
		return db.Bun.NewSelect().Model((*apiws.DebugCapture)(nil)).Where("number_id = ? AND revoked_at IS NULL AND until > ?", placeholder, placeholder).
			OrderExpr("until DESC").Limit(1).String()
	})
	err := db.queryHot(ctx, q, &cs, numberID, now)
	if err != nil || len(cs) == 0 {
		return nil, translate(err)
	}
	return cs[0], nil
}

// DebugCapture returns one of the account's captures, or ENOTFOUND.
func (db *DB) DebugCapture(ctx context.Context, accountID, id string) (*apiws.DebugCapture, error) {
	return selectOwned[apiws.DebugCapture](ctx, db.Bun, "debug capture", accountID, id)
}

// DebugCaptures lists an account's captures, newest first.
func (db *DB) DebugCaptures(ctx context.Context, accountID string) ([]*apiws.DebugCapture, error) {
	var cs []*apiws.DebugCapture
	err := db.Bun.NewSelect().Model(&cs).Where("account_id = ?", accountID).OrderExpr("id DESC").Scan(ctx)
	return cs, translate(err)
}

// RevokeDebugCapture ends a capture and deletes the content it kept, at once.
func (db *DB) RevokeDebugCapture(ctx context.Context, accountID, id string, at time.Time, audit *apiws.AuditEntry) (*apiws.DebugCapture, error) {
	c := new(apiws.DebugCapture)
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(c).Where("id = ? AND account_id = ?", id, accountID).Scan(ctx); err != nil {
			return notFound(err, "debug capture")
		}
		if c.RevokedAt == nil {
			c.RevokedAt = &at
			if _, err := tx.NewUpdate().Model(c).Column("revoked_at").WherePK().Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Model((*capturedContent)(nil)).Where("capture_id = ?", id).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// PurgeCapturedContent deletes captured content whose capture ended by now
// (except under a legal hold), in batches, and returns how many it deleted.
func (db *DB) PurgeCapturedContent(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		res, err := db.Bun.NewDelete().Model((*capturedContent)(nil)).
			Where("message_id IN (?)", db.Bun.NewSelect().Model((*capturedContent)(nil)).Column("message_id").
				Where("until <= ?", now).
				// A legal hold keeps even captured content.
				Where("account_id NOT IN (SELECT id FROM accounts WHERE legal_hold)").Limit(500)).Exec(ctx)
		if err != nil {
			return total, translate(err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
		if n < 500 {
			return total, nil
		}
	}
}

// CapturedContent returns the sealed content kept for a message, if any.
func (db *DB) CapturedContent(ctx context.Context, messageID string) ([]byte, error) {
	c := new(capturedContent)
	err := db.Bun.NewSelect().Model(c).Where("message_id = ?", messageID).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "captured content")
	}
	return c.Content, nil
}
