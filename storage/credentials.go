package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// ChangePassword sets an account's password hash, ends every session of the
// account, starts sess and queues mail, with an audit entry, in one
// transaction.
func (db *DB) ChangePassword(ctx context.Context, accountID, hash string, sess *apiws.Session, mail *OutgoingMail, audit *apiws.AuditEntry) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*apiws.Account)(nil)).Set("password_hash = ?", hash).Where("id = ?", accountID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apiws.Errorf(apiws.ENOTFOUND, "no such account")
		}
		if _, err := tx.NewUpdate().Model((*apiws.Session)(nil)).Set("revoked_at = ?", sess.CreatedAt).
			Where("account_id = ? AND revoked_at IS NULL", accountID).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(sess).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(mail).Exec(ctx); err != nil {
			return err
		}
		return appendAudit(ctx, tx, audit)
	})
}

// EmailChangeStart is an email change to record and the mail about it: the
// code to the new address, a notice to the current one.
type EmailChangeStart struct {
	Change *apiws.EmailChange
	Mails  []*OutgoingMail
}

// startEmailChange records an account's email change (replacing one that
// was waiting) and queues its mail. An email another account has is ETAKEN
// on ["input", "email"].
func startEmailChange(ctx context.Context, tx bun.Tx, start *EmailChangeStart) error {
	ch := start.Change
	taken, err := tx.NewSelect().Model((*apiws.Account)(nil)).
		Where("lower(email) = lower(?) AND id <> ?", ch.NewEmail, ch.AccountID).Exists(ctx)
	if err != nil {
		return err
	}
	if taken {
		return apiws.FieldError(apiws.ETAKEN, []string{"input", "email"}, "an account with this email exists")
	}
	if _, err := tx.NewDelete().Model((*apiws.EmailChange)(nil)).Where("account_id = ?", ch.AccountID).Exec(ctx); err != nil {
		return err
	}
	if _, err := tx.NewInsert().Model(ch).Exec(ctx); err != nil {
		return err
	}
	_, err = tx.NewInsert().Model(&start.Mails).Exec(ctx)
	return err
}

// EmailChangeVerdict is what becomes of a pending email change once a code
// was judged.
type EmailChangeVerdict int

// Verdicts of ResolveEmailChange.
const (
	// EmailChangeKeep writes the change back (a counted wrong code).
	EmailChangeKeep EmailChangeVerdict = iota
	// EmailChangeDrop deletes it (expired, or too many wrong codes).
	EmailChangeDrop
	// EmailChangeApply sets the account's email to the new one and deletes
	// the change.
	EmailChangeApply
)

// ResolveEmailChange runs judge on the account's pending email change inside
// a transaction that holds it, then does what judge decided and writes the
// audit entries it returns. judge's error is returned after that, so a
// counted wrong code is kept. ENOTFOUND when no change is waiting; ETAKEN
// when another account took the email meanwhile (nothing is written).
func (db *DB) ResolveEmailChange(ctx context.Context, accountID string, judge func(ch *apiws.EmailChange) (EmailChangeVerdict, []*apiws.AuditEntry, error)) (*apiws.Account, error) {
	var result error
	acc := new(apiws.Account)
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		ch := new(apiws.EmailChange)
		q := tx.NewSelect().Model(ch).Where("account_id = ?", accountID)
		if db.Dialect == Postgres {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx); err != nil {
			return notFound(err, "email change")
		}
		verdict, audit, err := judge(ch)
		result = err
		switch verdict {
		case EmailChangeKeep:
			_, err = tx.NewUpdate().Model(ch).Column("code_attempts").WherePK().Exec(ctx)
		case EmailChangeDrop, EmailChangeApply:
			_, err = tx.NewDelete().Model(ch).WherePK().Exec(ctx)
		}
		if err != nil {
			return err
		}
		if verdict == EmailChangeApply {
			_, err := tx.NewUpdate().Model((*apiws.Account)(nil)).Set("email = ?", ch.NewEmail).Where("id = ?", accountID).Exec(ctx)
			if isUniqueViolation(err) {
				return apiws.Errorf(apiws.ETAKEN, "another account has taken this email meanwhile; change it again")
			} else if err != nil {
				return err
			}
		}
		if err := appendAudit(ctx, tx, audit...); err != nil {
			return err
		}
		return tx.NewSelect().Model(acc).Where("id = ?", accountID).Scan(ctx)
	})
	if err != nil {
		return nil, err
	}
	return acc, result
}

// DeleteExpiredEmailChanges forgets email changes whose code expired by now.
func (db *DB) DeleteExpiredEmailChanges(ctx context.Context, now time.Time) (int, error) {
	return db.deleteInBatches(ctx, "email_changes", "account_id", "t.expires_at <= ?", now)
}
