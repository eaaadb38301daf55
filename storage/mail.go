package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// OutgoingMail is a mail waiting in the outbox until the mail server
// accepts it; then it is deleted.
type OutgoingMail struct {
	bun.BaseModel `bun:"table:mail_outbox"`
	ID            string    `bun:"id,pk"`
	AccountID     *string   `bun:"account_id"`
	To            string    `bun:"to_address,notnull"`
	Subject       string    `bun:"subject,notnull"`
	Body          string    `bun:"body,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull"`
	Attempts      int       `bun:"attempts,notnull"`
	NextAttemptAt time.Time `bun:"next_attempt_at,notnull"`
	LastError     *string   `bun:"last_error"`
}

// EnqueueMail adds mail to the outbox.
func (db *DB) EnqueueMail(ctx context.Context, m ...*OutgoingMail) error {
	if len(m) == 0 {
		return nil
	}
	_, err := db.Bun.NewInsert().Model(&m).Exec(ctx)
	return translate(err)
}

// ClaimMail takes up to limit mails due by now and pushes their next
// attempt to now+lease, so that another sender (another instance) leaves
// them alone while this one tries; a sender that dies mid-way leaves them
// to be tried again after the lease.
func (db *DB) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*OutgoingMail, error) {
	var due []*OutgoingMail
	err := db.Bun.NewSelect().Model(&due).Where("next_attempt_at <= ?", now).
		OrderExpr("next_attempt_at, id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	claimed := due[:0]
	for _, m := range due {
		res, err := db.Bun.NewUpdate().Model((*OutgoingMail)(nil)).
			Set("next_attempt_at = ?", now.Add(lease)).Set("attempts = attempts + 1").
			Where("id = ? AND next_attempt_at = ?", m.ID, m.NextAttemptAt).Exec(ctx)
		if err != nil {
			return nil, translate(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			m.Attempts++
			claimed = append(claimed, m)
		}
	}
	return claimed, nil
}

// MailSent deletes a mail the server accepted.
func (db *DB) MailSent(ctx context.Context, id string) error {
	_, err := db.Bun.NewDelete().Model((*OutgoingMail)(nil)).Where("id = ?", id).Exec(ctx)
	return translate(err)
}

// MailFailed records a failed attempt and when to try again.
func (db *DB) MailFailed(ctx context.Context, id string, next time.Time, reason string) error {
	_, err := db.Bun.NewUpdate().Model((*OutgoingMail)(nil)).
		Set("next_attempt_at = ?", next).Set("last_error = ?", reason).Where("id = ?", id).Exec(ctx)
	return translate(err)
}
