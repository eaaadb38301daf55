package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// Transit is the sealed content of a sent message, kept after it left the
// outbox so that the connector can answer the recipient's retry receipts
// (a phone that could not decrypt the message asks for it again). It goes
// when the message is DELIVERED (or read, played, failed), or at
// ExpiresAt, whichever comes first; a POLL's stays until ExpiresAt, for
// the connector to name the options of the votes.
type Transit struct {
	bun.BaseModel `bun:"table:transit"`
	MessageID     string    `bun:"message_id,pk"`
	NumberID      string    `bun:"number_id,notnull"`
	WAMessageID   string    `bun:"wa_message_id,notnull"`
	Content       []byte    `bun:"content,notnull"`
	ExpiresAt     time.Time `bun:"expires_at,notnull"`
}

// RetainedContent returns the transit content of the message the number
// sent under the WhatsApp id, or nil when none is kept (any more).
func (db *DB) RetainedContent(ctx context.Context, numberID, waID string, now time.Time) (*Transit, error) {
	t := new(Transit)
	err := db.Bun.NewSelect().Model(t).
		Where("number_id = ? AND wa_message_id = ? AND expires_at > ?", numberID, waID, now).
		Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, translate(err)
	}
	return t, nil
}

// DeleteExpiredTransit deletes the transit content whose time is up, of
// sent messages and of logged events.
func (db *DB) DeleteExpiredTransit(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for _, model := range []any{(*Transit)(nil), (*InboundTransit)(nil)} {
		res, err := db.Bun.NewDelete().Model(model).Where("expires_at <= ?", now).Exec(ctx)
		if err != nil {
			return total, translate(err)
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

// retainTransit writes the transit content of messages just sent.
func (db *DB) retainTransit(ctx context.Context, tx bun.Tx, ts []*Transit) error {
	if len(ts) == 0 {
		return nil
	}
	return insertTransit.exec(ctx, db, tx, ts)
}

// dropTransit deletes the transit content of messages a receipt moved past
// SENT: the recipient has them. Polls keep theirs (see Transit).
func (db *DB) dropTransit(ctx context.Context, tx bun.Tx, rs []*ReceiptWrite) error {
	numbers, waIDs := delivered(rs)
	if len(waIDs) == 0 {
		return nil
	}
	in, args := pairsIn(numbers, waIDs)
	_, err := tx.NewDelete().Model((*Transit)(nil)).
		Where("(number_id, wa_message_id) "+in, args...).
		Where("NOT EXISTS (SELECT 1 FROM messages WHERE messages.id = transit.message_id AND messages.kind = ?)", apiws.KindPoll).
		Exec(ctx)
	return err
}

// delivered returns the number and WhatsApp id, in pairs, of each message
// of the receipts that tell the recipient has it (DELIVERED or later, or
// FAILED).
func delivered(rs []*ReceiptWrite) (numbers, waIDs []string) {
	return receiptKeys(rs, func(r *ReceiptWrite) bool {
		switch r.Status {
		case apiws.StatusDelivered, apiws.StatusRead, apiws.StatusPlayed, apiws.StatusFailed:
			return true
		}
		return false
	})
}

// InboundTransit is the sealed content that came with an event of the
// account's log (an inbound message's text, media description, location,
// ...), kept while it is handed over to subscribers and webhook endpoints.
// Content goes once every enabled webhook endpoint that selects the event
// has a SUCCEEDED delivery of it, or at ExpiresAt; Media (what apiws needs
// to fetch an inbound file from WhatsApp for media.url) stays until
// ExpiresAt, so receivers can download the file after the delivery. The
// row goes when both are gone. Both are sealed with the event as AAD.
type InboundTransit struct {
	bun.BaseModel `bun:"table:inbound_transit"`
	AccountID     string    `bun:"account_id,pk"`
	Seq           int64     `bun:"seq,pk"`
	Content       []byte    `bun:"content"`
	Media         []byte    `bun:"media"`
	ExpiresAt     time.Time `bun:"expires_at,notnull"`
}

// keepContent seals the content of events just logged into the transit
// table, and the media reference of those with an inbound file apart.
func (db *DB) keepContent(ctx context.Context, tx bun.Tx, evs []*apiws.LogEvent) error {
	rows, err := db.transit.rows(evs)
	if err != nil || len(rows) == 0 {
		return err
	}
	return insertInboundTransit.exec(ctx, db, tx, rows)
}

// rows returns the transit rows of the events that carry content (and sets
// MediaUntil of those with an inbound file).
func (k contentKeeper) rows(evs []*apiws.LogEvent) ([]*InboundTransit, error) {
	var rows []*InboundTransit
	expires := time.Now().UTC().Add(k.ttl)
	for _, ev := range evs {
		if ev.Content == nil {
			continue
		}
		if k.seal == nil {
			return nil, errors.New("storage: an event with content, and no transit to keep it in (KeepContent)")
		}
		row := &InboundTransit{AccountID: ev.AccountID, Seq: ev.Seq, Content: k.seal(ev), ExpiresAt: expires}
		if m := ev.Content.Media; m != nil && m.Ref != nil {
			row.Media = k.sealMedia(ev)
			until := expires
			ev.MediaUntil = &until
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// HeldContent is what the transit table holds of an event.
type HeldContent struct {
	// Content is the event's sealed content.
	Content []byte
	// MediaUntil is when the event's media reference goes, if it is held.
	MediaUntil *time.Time
}

// TransitContents returns the sealed content the transit table holds for
// the account's events with the cursors seqs, by cursor.
func (db *DB) TransitContents(ctx context.Context, accountID string, seqs []int64, now time.Time) (map[int64]HeldContent, error) {
	var rows []*InboundTransit
	err := db.Bun.NewSelect().Model(&rows).Column("seq", "content", "media", "expires_at").
		Where("account_id = ? AND seq IN (?) AND content IS NOT NULL AND expires_at > ?", accountID, bun.List(seqs), now.UTC()).
		Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[int64]HeldContent, len(rows))
	for _, r := range rows {
		h := HeldContent{Content: r.Content}
		if r.Media != nil {
			h.MediaUntil = &r.ExpiresAt
		}
		out[r.Seq] = h
	}
	return out, nil
}

// TransitMedia returns the sealed media reference of the account's event
// seq and the number the event is of, while the transit table holds it at
// now; nil when it does not (any more).
func (db *DB) TransitMedia(ctx context.Context, accountID string, seq int64, now time.Time) (numberID string, sealed []byte, err error) {
	err = db.Bun.NewRaw(`SELECT e.number_id, t.media FROM inbound_transit t
		JOIN log_events e ON e.account_id = t.account_id AND e.seq = t.seq
		WHERE t.account_id = ? AND t.seq = ? AND t.media IS NOT NULL AND t.expires_at > ?`,
		accountID, seq, now.UTC()).Scan(ctx, &numberID, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, translate(err)
	}
	return numberID, sealed, nil
}
