package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// publishBatch is how many accounts get their notice and mail per
// statement when a policy version is published.
const publishBatch = 500

// PublishPolicy writes a new policy version and, for every account, the
// notice and the mail that make makes for it, in one transaction: either
// every account hears of the version or it is not published. A version
// already published is ETAKEN on ["input", "version"].
func (db *DB) PublishPolicy(ctx context.Context, p *apiws.PolicyVersion, announce func(acc *apiws.Account) (*apiws.Notice, *OutgoingMail), audit *apiws.AuditEntry) (int, error) {
	count := 0
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(p).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return apiws.FieldError(apiws.ETAKEN, []string{"input", "version"}, "version %s is already published", p.Version)
			}
			return err
		}
		after := ""
		for {
			var accs []*apiws.Account
			err := tx.NewSelect().Model(&accs).Column("id", "name", "email").
				Where("id > ?", after).OrderExpr("id").Limit(publishBatch).Scan(ctx)
			if err != nil {
				return err
			}
			if len(accs) == 0 {
				break
			}
			notices := make([]*apiws.Notice, 0, len(accs))
			mails := make([]*OutgoingMail, 0, len(accs))
			for _, acc := range accs {
				n, m := announce(acc)
				notices = append(notices, n)
				mails = append(mails, m)
			}
			if _, err := tx.NewInsert().Model(&notices).Exec(ctx); err != nil {
				return err
			}
			if _, err := tx.NewInsert().Model(&mails).Exec(ctx); err != nil {
				return err
			}
			count += len(accs)
			after = accs[len(accs)-1].ID
		}
		return appendAudit(ctx, tx, audit)
	})
	return count, err
}

// Notices lists the account's notices, newest first, optionally only the
// unread ones.
func (db *DB) Notices(ctx context.Context, accountID string, unreadOnly bool) ([]*apiws.Notice, error) {
	var ns []*apiws.Notice
	q := db.Bun.NewSelect().Model(&ns).Where("account_id = ?", accountID).OrderExpr("id DESC")
	if unreadOnly {
		q = q.Where("read_at IS NULL")
	}
	err := q.Scan(ctx)
	return ns, translate(err)
}

// DismissNotice marks one of the account's notices read (once: a second
// dismissal keeps the first time) and reports whether it exists.
func (db *DB) DismissNotice(ctx context.Context, accountID, id string, at time.Time) (bool, error) {
	_, err := db.Bun.NewUpdate().Model((*apiws.Notice)(nil)).Set("read_at = ?", at).
		Where("id = ? AND account_id = ? AND read_at IS NULL", id, accountID).Exec(ctx)
	if err != nil {
		return false, translate(err)
	}
	n, err := db.Bun.NewSelect().Model((*apiws.Notice)(nil)).Where("id = ? AND account_id = ?", id, accountID).Count(ctx)
	return n > 0, translate(err)
}

// Notice returns one of the account's notices, or ENOTFOUND.
func (db *DB) Notice(ctx context.Context, accountID, id string) (*apiws.Notice, error) {
	return selectOwned[apiws.Notice](ctx, db.Bun, "notice", accountID, id)
}
