package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// MessageByWAID returns the number's message with the WhatsApp id (sent or
// received), or ENOTFOUND. An outbound message counts once WhatsApp has it:
// its id is chosen when it is queued.
func (db *DB) MessageByWAID(ctx context.Context, numberID, waID string) (*apiws.Message, error) {
	m := new(apiws.Message)
	err := db.Bun.NewSelect().Model(m).
		Where("number_id = ? AND wa_message_id = ?", numberID, waID).
		Where("(direction = ? OR sent_at IS NOT NULL)", apiws.Inbound).
		OrderExpr("id").Limit(1).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "message")
	}
	return m, nil
}

// MarkEdited sets the message's edited_at to at and logs ev (its
// MESSAGE_EDITED event, with the new content in transit) in one
// transaction. An event whose WhatsApp id the number's log holds already
// gives ErrDuplicate and changes nothing, here and in MarkRevoked and
// LogEvent.
func (db *DB) MarkEdited(ctx context.Context, messageID string, at time.Time, ev *apiws.LogEvent) error {
	return db.markMessage(ctx, messageID, "edited_at", at, ev)
}

// MarkRevoked sets the message's revoked_at to at and logs ev (its
// MESSAGE_REVOKED event) in one transaction.
func (db *DB) MarkRevoked(ctx context.Context, messageID string, at time.Time, ev *apiws.LogEvent) error {
	return db.markMessage(ctx, messageID, "revoked_at", at, ev)
}

// markMessage sets one time column of a message and logs ev.
func (db *DB) markMessage(ctx context.Context, messageID, column string, at time.Time, ev *apiws.LogEvent) error {
	return db.logOnce(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*apiws.Message)(nil)).Set("? = ?", bun.Ident(column), at.UTC()).
			Where("id = ?", messageID).Exec(ctx)
		if err != nil {
			return err
		}
		return db.appendEvents(ctx, tx, []*apiws.LogEvent{ev})
	})
}

// LogEvent appends ev to its account's log (content in transit), alone:
// for events that change nothing else (a reaction, a poll vote).
func (db *DB) LogEvent(ctx context.Context, ev *apiws.LogEvent) error {
	return db.logOnce(ctx, func(ctx context.Context, tx bun.Tx) error {
		return db.appendEvents(ctx, tx, []*apiws.LogEvent{ev})
	})
}

// logOnce runs fn in a transaction; the unique index on the events'
// WhatsApp ids turns a repeated one into ErrDuplicate.
func (db *DB) logOnce(ctx context.Context, fn func(context.Context, bun.Tx) error) error {
	err := db.RunInTx(ctx, fn)
	if isUniqueViolation(err) {
		return ErrDuplicate
	}
	return err
}
