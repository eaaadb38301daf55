package storage

import (
	"context"
	"strings"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// CreateAccount writes a new account with its first consent and session in
// one transaction. An email already taken, in any letter case, is ETAKEN on
// ["input", "email"] and writes nothing.
func (db *DB) CreateAccount(ctx context.Context, acc *apiws.Account, consent *apiws.Consent, sess *apiws.Session, audit *apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(acc).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return apiws.FieldError(apiws.ETAKEN, []string{"input", "email"}, "an account with this email exists")
			}
			return err
		}
		if _, err := tx.NewInsert().Model(consent).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(sess).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// Account returns the account with id, or ENOTFOUND.
func (db *DB) Account(ctx context.Context, id string) (*apiws.Account, error) {
	return selectOne[apiws.Account](ctx, db.Bun, "account", "id = ?", id)
}

// AccountsByIDs returns the accounts with the ids, in no particular order;
// missing ones are left out.
func (db *DB) AccountsByIDs(ctx context.Context, ids []string) ([]*apiws.Account, error) {
	var accs []*apiws.Account
	err := db.Bun.NewSelect().Model(&accs).Where("id IN (?)", bun.List(ids)).Scan(ctx)
	return accs, translate(err)
}

// AccountByEmail finds an account by email, ignoring letter case.
func (db *DB) AccountByEmail(ctx context.Context, email string) (*apiws.Account, error) {
	return selectOne[apiws.Account](ctx, db.Bun, "account", "lower(email) = lower(?)", email)
}

// UpdateAccount writes acc's editable fields, with audit entries, in one
// transaction; with a non-nil email change, it also starts that (see
// startEmailChange). A taken email is ETAKEN on ["input", "email"].
func (db *DB) UpdateAccount(ctx context.Context, acc *apiws.Account, audit []*apiws.AuditEntry, email *EmailChangeStart) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if email != nil {
			if err := startEmailChange(ctx, tx, email); err != nil {
				return err
			}
		}
		_, err := tx.NewUpdate().Model(acc).
			Column("name", "email", "phone", "business").
			WherePK().Exec(ctx)
		if err != nil {
			if isUniqueViolation(err) {
				return apiws.FieldError(apiws.ETAKEN, []string{"input", "email"}, "an account with this email exists")
			}
			return err
		}
		return appendAudit(ctx, tx, audit...)
	})
}

// ListAccounts pages through every account, newest first, optionally
// narrowed by f. after is the id of the last account of the previous page.
func (db *DB) ListAccounts(ctx context.Context, first int, after string, f apiws.AccountFilter) ([]*apiws.Account, int, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.Search != "" {
			like := "%" + strings.ToLower(f.Search) + "%"
			q = q.Where("(lower(name) LIKE ? OR lower(email) LIKE ? OR id = ?)", like, like, f.Search)
		}
		if f.LegalHold != nil {
			q = q.Where("legal_hold = ?", *f.LegalHold)
		}
		return q
	}
	total, err := filter(db.Bun.NewSelect().Model((*apiws.Account)(nil))).Count(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	var accs []*apiws.Account
	q := filter(db.Bun.NewSelect().Model(&accs)).OrderExpr("id DESC").Limit(int64(first))
	if after != "" {
		q = q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, translate(err)
	}
	return accs, int(total), nil
}

// Consents returns an account's consents, oldest first.
func (db *DB) Consents(ctx context.Context, accountID string) ([]*apiws.Consent, error) {
	var cs []*apiws.Consent
	err := db.Bun.NewSelect().Model(&cs).Where("account_id = ?", accountID).OrderExpr("id").Scan(ctx)
	return cs, translate(err)
}

// AddConsent records a consent.
func (db *DB) AddConsent(ctx context.Context, c *apiws.Consent, audit *apiws.AuditEntry) error {
	return db.insertAudited(ctx, audit, c)
}

// PolicyVersions returns every policy version, newest effective first.
func (db *DB) PolicyVersions(ctx context.Context) ([]*apiws.PolicyVersion, error) {
	var ps []*apiws.PolicyVersion
	err := db.Bun.NewSelect().Model(&ps).OrderExpr("effective_at DESC").Scan(ctx)
	return ps, translate(err)
}

// Audit appends entries to the audit log.
func (db *DB) Audit(ctx context.Context, entries ...*apiws.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	_, err := db.Bun.NewInsert().Model(&entries).Exec(ctx)
	return translate(err)
}
