package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// exportRow is a privacy export's content, kept until it expires.
type exportRow struct {
	bun.BaseModel `bun:"table:exports"`
	RequestID     string    `bun:"request_id,pk"`
	AccountID     string    `bun:"account_id,notnull"`
	Content       []byte    `bun:"content,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull"`
	ExpiresAt     time.Time `bun:"expires_at,notnull"`
}

// CreatePrivacyRequest writes a new request together with the mail carrying
// its code and an audit entry, so the code is never lost between the two.
func (db *DB) CreatePrivacyRequest(ctx context.Context, r *apiws.PrivacyRequest, mail *OutgoingMail, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, r, mail)
}

// PrivacyRequest returns one of the account's requests, or ENOTFOUND.
func (db *DB) PrivacyRequest(ctx context.Context, accountID, id string) (*apiws.PrivacyRequest, error) {
	return selectOwned[apiws.PrivacyRequest](ctx, db.Bun, "privacy request", accountID, id)
}

// PrivacyRequests lists the account's requests, newest first.
func (db *DB) PrivacyRequests(ctx context.Context, accountID string) ([]*apiws.PrivacyRequest, error) {
	var rs []*apiws.PrivacyRequest
	err := db.Bun.NewSelect().Model(&rs).Where("account_id = ?", accountID).OrderExpr("id DESC").Scan(ctx)
	return rs, translate(err)
}

// PrivacyQueue lists every account's requests in the statuses (all when
// empty), the earliest due first.
func (db *DB) PrivacyQueue(ctx context.Context, statuses []apiws.PrivacyRequestStatus) ([]*apiws.PrivacyRequest, error) {
	var rs []*apiws.PrivacyRequest
	q := db.Bun.NewSelect().Model(&rs).OrderExpr("due_at, id")
	if len(statuses) > 0 {
		q = q.Where("status IN (?)", bun.List(statuses))
	}
	err := q.Scan(ctx)
	return rs, translate(err)
}

// ChangePrivacyRequest runs change on one of the account's requests inside
// a transaction that holds the row, then writes the request and the audit
// entries change returns. When change returns an error, that error is
// returned and nothing is written, unless keep is true: then the request's
// changes (a counted wrong code) are written and the error still returned.
func (db *DB) ChangePrivacyRequest(ctx context.Context, accountID, id string, change func(r *apiws.PrivacyRequest) (audit []*apiws.AuditEntry, keep bool, err error)) (*apiws.PrivacyRequest, error) {
	r := new(apiws.PrivacyRequest)
	var result error
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(r).Where("id = ? AND account_id = ?", id, accountID)
		if db.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return notFound(err, "privacy request")
		}
		audit, keep, err := change(r)
		if err != nil && !keep {
			return err
		}
		result = err
		if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			return err
		}
		if len(audit) > 0 {
			_, err = tx.NewInsert().Model(&audit).Exec(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, result
}

// UpdatePrivacyRequest writes every column of r, with audit entries.
func (db *DB) UpdatePrivacyRequest(ctx context.Context, r *apiws.PrivacyRequest, audit ...*apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit...)
	})
}

// CompleteExport stores an export's content and completes its request, in
// one transaction.
func (db *DB) CompleteExport(ctx context.Context, r *apiws.PrivacyRequest, content []byte, audit ...*apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := &exportRow{RequestID: r.ID, AccountID: r.AccountID, Content: content, CreatedAt: *r.CompletedAt, ExpiresAt: *r.DownloadExpiresAt}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit...)
	})
}

// Export returns the content of the account's export for a request, or
// ENOTFOUND when there is none or it expired by now.
func (db *DB) Export(ctx context.Context, accountID, requestID string, now time.Time) ([]byte, error) {
	row := new(exportRow)
	err := db.Bun.NewSelect().Model(row).
		Where("request_id = ? AND account_id = ? AND expires_at > ?", requestID, accountID, now).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "export")
	}
	return row.Content, nil
}

// UpdateAccountState writes the account's status and privacy flags
// (status, deletion_scheduled_at, processing_restricted,
// analytics_objected, legal_hold) with audit entries, in one transaction.
func (db *DB) UpdateAccountState(ctx context.Context, acc *apiws.Account, audit ...*apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return updateAccountState(ctx, tx, acc, audit)
	})
}

func updateAccountState(ctx context.Context, tx bun.Tx, acc *apiws.Account, audit []*apiws.AuditEntry) error {
	_, err := tx.NewUpdate().Model(acc).
		Column("status", "deletion_scheduled_at", "processing_restricted", "analytics_objected", "legal_hold").
		WherePK().Exec(ctx)
	if err != nil {
		return err
	}
	return appendAudit(ctx, tx, audit...)
}

// ScheduleErasure puts the account in PENDING_DELETION (acc carries the new
// state), revokes every API key it has, and completes the request, in one
// transaction.
func (db *DB) ScheduleErasure(ctx context.Context, acc *apiws.Account, r *apiws.PrivacyRequest, at time.Time, audit ...*apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := updateAccountState(ctx, tx, acc, audit); err != nil {
			return err
		}
		_, err := tx.NewUpdate().Model((*apiws.APIKey)(nil)).Set("revoked_at = ?", at).
			Where("account_id = ? AND revoked_at IS NULL", acc.ID).Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(r).WherePK().Exec(ctx)
		return err
	})
}

// ApplyRequest writes a request's new state and, when acc is not nil, the
// account's new status and flags, with audit entries, in one transaction.
func (db *DB) ApplyRequest(ctx context.Context, r *apiws.PrivacyRequest, acc *apiws.Account, audit ...*apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if acc != nil {
			if err := updateAccountState(ctx, tx, acc, nil); err != nil {
				return err
			}
		}
		if _, err := tx.NewUpdate().Model(r).WherePK().Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit...)
	})
}
