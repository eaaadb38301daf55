package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	"github.com/apiws/apiws"
)

// OutboxItem is a queued message's content waiting for transmission,
// sealed (encrypted) by the messaging service.
type OutboxItem struct {
	bun.BaseModel `bun:"table:outbox"`
	MessageID     string    `bun:"message_id,pk"`
	AccountID     string    `bun:"account_id,notnull"`
	NumberID      string    `bun:"number_id,notnull"`
	Content       []byte    `bun:"content,notnull"`
	Attempts      int       `bun:"attempts,notnull"`
	NextAttemptAt time.Time `bun:"next_attempt_at,notnull"`
	// Then are events to log in the transaction that records the item
	// sent (SentWrite), after its SENT: the number's own reaction. Not a
	// column.
	Then []*apiws.LogEvent `bun:"-"`
}

// capturedContent is content kept under a debug capture until its end.
type capturedContent struct {
	bun.BaseModel `bun:"table:captured_contents"`
	MessageID     string    `bun:"message_id,pk"`
	CaptureID     string    `bun:"capture_id,notnull"`
	AccountID     string    `bun:"account_id,notnull"`
	Content       []byte    `bun:"content,notnull"`
	Until         time.Time `bun:"until,notnull"`
}

// enteredAt is when a message came in, queued or received: its age for the
// retention, the time filters and the queue's expiry, as indexed
// (messages_entered_at).
const enteredAt = "COALESCE(queued_at, received_at)"

// ErrDuplicate reports a send whose idempotency key was used before.
var ErrDuplicate = errors.New("idempotency key used before")

// ErrRefused reports a guarded send (QueueWrite.Guard) whose account or
// number did not let it be sent when it was to be written.
var ErrRefused = errors.New("the account or number does not send")

// QueueMessage writes a new outbound message (QUEUED), its sealed content
// in the outbox and its first event, in one transaction. A reused
// idempotency key gives ErrDuplicate and writes nothing.
func (db *DB) QueueMessage(ctx context.Context, m *apiws.Message, sealed []byte) (*apiws.LogEvent, error) {
	q := &QueueWrite{Message: m, Sealed: sealed}
	if _, err := db.Write(ctx, &Batch{Queue: []*QueueWrite{q}}); err != nil {
		return nil, err
	}
	return q.Event, q.Err
}

// MessageByIdempotencyKey finds an account's message by its key, or
// ENOTFOUND.
func (db *DB) MessageByIdempotencyKey(ctx context.Context, accountID, key string) (*apiws.Message, error) {
	return selectOne[apiws.Message](ctx, db.Bun, "message", "account_id = ? AND idempotency_key = ?", accountID, key)
}

// ForgetIdempotencyKeys clears keys older than before, so they can be used
// again (they are promised for 24 hours).
func (db *DB) ForgetIdempotencyKeys(ctx context.Context, before time.Time) error {
	_, err := db.Bun.NewUpdate().Model((*apiws.Message)(nil)).
		Set("idempotency_key = NULL").Set("request_hash = NULL").
		Where("idempotency_key IS NOT NULL AND "+enteredAt+" < ?", before).Exec(ctx)
	return translate(err)
}

// Message returns one of the account's messages, or ENOTFOUND.
func (db *DB) Message(ctx context.Context, accountID, id string) (*apiws.Message, error) {
	return selectOwned[apiws.Message](ctx, db.Bun, "message", accountID, id)
}

// MessagesByIDs returns the messages with the ids; missing ones are left out.
func (db *DB) MessagesByIDs(ctx context.Context, ids []string) ([]*apiws.Message, error) {
	var ms []*apiws.Message
	if db.Dialect != Postgres {
		err := db.Bun.NewSelect().Model(&ms).Where("id IN (?)", bun.List(ids)).Scan(ctx)
		return ms, translate(err)
	}
	// Read at every dispatcher pass: a hot statement, the ids one array.
	q := db.hotQuery("MessagesByIDs", func() string {
		return db.Bun.NewSelect().Model((*apiws.Message)(nil)).Where("id = ANY(?::text[])", placeholder).String()
	})
	err := db.queryHot(ctx, q, &ms, texts(ids))
	return ms, translate(err)
}

// ListMessages pages an account's messages, newest first; after is the id
// of the last message of the previous page. The total, of every page, is
// counted only with count (else 0).
func (db *DB) ListMessages(ctx context.Context, accountID string, f apiws.MessageFilter, first int, after string, count bool) ([]*apiws.Message, int, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("account_id = ?", accountID)
		if f.NumberID != "" {
			q = q.Where("number_id = ?", f.NumberID)
		}
		if len(f.Status) > 0 {
			q = q.Where("status IN (?)", bun.List(f.Status))
		}
		if len(f.Kind) > 0 {
			q = q.Where("kind IN (?)", bun.List(f.Kind))
		}
		if f.Direction != nil {
			q = q.Where("direction = ?", *f.Direction)
		}
		if f.Peer != nil {
			q = q.Where("peer = ?", *f.Peer)
		}
		if f.ClientReference != nil {
			q = q.Where("client_reference = ?", *f.ClientReference)
		}
		if f.GroupID != nil {
			q = q.Where("group_id = ?", *f.GroupID)
		}
		if f.Since != nil {
			q = q.Where(enteredAt+" >= ?", f.Since.UTC())
		}
		if f.Until != nil {
			q = q.Where(enteredAt+" < ?", f.Until.UTC())
		}
		return q
	}
	var total int
	if count {
		n, err := filter(db.Bun.NewSelect().Model((*apiws.Message)(nil))).Count(ctx)
		if err != nil {
			return nil, 0, translate(err)
		}
		total = int(n)
	}
	var ms []*apiws.Message
	q := filter(db.Bun.NewSelect().Model(&ms)).OrderExpr("id DESC").Limit(int64(first))
	if after != "" {
		q = q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, translate(err)
	}
	return ms, total, nil
}

// EventsOfMessages returns the events of the messages, oldest first.
func (db *DB) EventsOfMessages(ctx context.Context, ids []string) ([]*apiws.LogEvent, error) {
	var evs []*apiws.LogEvent
	if db.Dialect == Postgres {
		// One index lookup per message, whatever the statistics say: with
		// an IN list PostgreSQL estimated thousands of rows per message
		// while the log's statistics lagged behind its growth, and read
		// the whole log in a parallel scan for a page of 50 (23 ms against
		// 0.3 ms; see BENCHMARKS.md, page of 50).
		err := db.Bun.NewRaw(`SELECT e.* FROM unnest(?::text[]) AS m (id)
			CROSS JOIN LATERAL (SELECT * FROM log_events WHERE message_id = m.id OFFSET 0) AS e ORDER BY e.seq`, pgdialect.Array(ids)).Scan(ctx, &evs)
		return evs, translate(err)
	}
	err := db.Bun.NewSelect().Model(&evs).Where("message_id IN (?)", bun.List(ids)).OrderExpr("seq").Scan(ctx)
	return evs, translate(err)
}

// EventsAfter returns up to limit events of the account after seq, oldest
// first, optionally of one number.
func (db *DB) EventsAfter(ctx context.Context, accountID string, after int64, numberID string, limit int) ([]*apiws.LogEvent, error) {
	var evs []*apiws.LogEvent
	q := db.Bun.NewSelect().Model(&evs).Where("account_id = ? AND seq > ?", accountID, after).OrderExpr("seq").Limit(int64(limit))
	if numberID != "" {
		q = q.Where("number_id = ?", numberID)
	}
	return evs, translate(q.Scan(ctx))
}

// LastEventSeq returns the account's newest cursor (0 when it has none).
func (db *DB) LastEventSeq(ctx context.Context, accountID string) (int64, error) {
	var seq int64
	err := db.Bun.NewSelect().Table("event_counters").Column("last_seq").Where("account_id = ?", accountID).Scan(ctx, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, translate(err)
}

// NextOutbox returns the oldest outbox items of a number, in queue order.
func (db *DB) NextOutbox(ctx context.Context, numberID string, limit int) ([]*OutboxItem, error) {
	var items []*OutboxItem
	q := db.hotQuery("NextOutbox", func() string {
		return db.Bun.NewSelect().Model((*OutboxItem)(nil)).Where("number_id = ?", placeholder).OrderExpr("message_id LIMIT ?", placeholder).String()
	})
	err := db.queryHot(ctx, q, &items, numberID, limit)
	return items, translate(err)
}

// OutboxNumbers lists the numbers with queued messages.
func (db *DB) OutboxNumbers(ctx context.Context) ([]string, error) {
	var ids []string
	err := db.Bun.NewSelect().Model((*OutboxItem)(nil)).Distinct().Column("number_id").Scan(ctx, &ids)
	return ids, translate(err)
}

// forUpdate locks the selected messages until the transaction ends, so the
// acceptance of a message and its receipts, which race, apply one after the
// other to the status each finds. SQLite runs one writing transaction at a
// time already.
func (db *DB) forUpdate(q *bun.SelectQuery) *bun.SelectQuery {
	if db.Dialect == Postgres {
		return q.For("UPDATE")
	}
	return q
}

// MarkSent records WhatsApp's acceptance of a queued message: SENT (unless a
// receipt already moved it further) and the content deleted from the outbox,
// or moved into a debug capture when captureID is set.
func (db *DB) MarkSent(ctx context.Context, item *OutboxItem, at time.Time, captureID string, captureUntil time.Time) ([]*apiws.LogEvent, error) {
	return db.Write(ctx, &Batch{Sent: []*SentWrite{{Items: []*OutboxItem{item}, At: at, CaptureID: captureID, CaptureUntil: captureUntil}}})
}

// MarkFailed ends a message as FAILED and deletes its content (or keeps it
// under a debug capture).
func (db *DB) MarkFailed(ctx context.Context, item *OutboxItem, merr *apiws.MessageError, at time.Time, captureID string, captureUntil time.Time) ([]*apiws.LogEvent, error) {
	var evs []*apiws.LogEvent
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		evs = nil
		m := new(apiws.Message)
		if err := db.forUpdate(tx.NewSelect().Model(m).Where("id = ?", item.MessageID)).Scan(ctx); err != nil {
			return err
		}
		if ev := m.Step(apiws.StatusFailed, at, merr); ev != nil {
			evs = append(evs, ev)
			if err := db.updateStatuses(ctx, tx, []*apiws.Message{m}); err != nil {
				return err
			}
		}
		if err := db.moveContents(ctx, tx, []*OutboxItem{item}, captureID, captureUntil); err != nil {
			return err
		}
		return db.appendEvents(ctx, tx, evs)
	})
	if err != nil {
		return nil, err
	}
	return evs, nil
}

// MarkRetry schedules another attempt of an outbox item.
func (db *DB) MarkRetry(ctx context.Context, messageID string, attempts int, next time.Time, merr *apiws.MessageError) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*OutboxItem)(nil)).Set("attempts = ?", attempts).Set("next_attempt_at = ?", next).
			Where("message_id = ?", messageID).Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model((*apiws.Message)(nil)).Set("error = ?", merr).Where("id = ?", messageID).Exec(ctx)
		return err
	})
}

// ApplyReceipt moves the number's messages with the WhatsApp ids forward to
// status (see ReceiptWrite).
func (db *DB) ApplyReceipt(ctx context.Context, numberID string, waIDs []string, status apiws.MessageStatus, merr *apiws.MessageError, at time.Time) ([]*apiws.LogEvent, error) {
	return db.Write(ctx, &Batch{Receipts: []*ReceiptWrite{{NumberID: numberID, WAIDs: waIDs, Status: status, Error: merr, At: at}}})
}

// InsertInbound writes a received message's metadata and its
// MESSAGE_RECEIVED event, whose content goes to the transit table (see
// KeepContent); ErrDuplicate when the number received a message with that
// WhatsApp id before (nothing is written then).
func (db *DB) InsertInbound(ctx context.Context, m *apiws.Message, content *apiws.MessageContent) (*apiws.LogEvent, error) {
	ev := &apiws.LogEvent{AccountID: m.AccountID, Type: apiws.EventTypeMessageReceived, MessageID: m.ID, NumberID: m.NumberID,
		Status: apiws.StatusReceived, At: *m.ReceivedAt, Content: content}
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// WhatsApp delivers a message again when its receipt was lost; the
		// unique index on (number, WhatsApp id) of inbound messages keeps one.
		res, err := tx.NewInsert().Model(m).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return ErrDuplicate
		}
		return db.appendEvents(ctx, tx, []*apiws.LogEvent{ev})
	})
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// OutboxDepth counts the messages waiting to be sent.
func (db *DB) OutboxDepth(ctx context.Context) (int, error) {
	n, err := db.Bun.NewSelect().Model((*OutboxItem)(nil)).Count(ctx)
	return int(n), translate(err)
}

// UnsendableOutbox returns up to limit outbox items that can no longer be
// sent: their number is gone, logged out or banned, or they have waited
// since before queuedBefore.
func (db *DB) UnsendableOutbox(ctx context.Context, queuedBefore time.Time, limit int) ([]*OutboxItem, error) {
	var items []*OutboxItem
	err := db.Bun.NewSelect().Model(&items).
		Where("NOT EXISTS (SELECT 1 FROM numbers n WHERE n.id = ?TableAlias.number_id AND n.status NOT IN (?))",
			bun.List([]apiws.NumberStatus{apiws.NumberLoggedOut, apiws.NumberBanned})).
		WhereOr("message_id IN (SELECT id FROM messages WHERE status = ? AND "+enteredAt+" < ?)", apiws.StatusQueued, queuedBefore).
		OrderExpr("message_id").Limit(int64(limit)).Scan(ctx)
	return items, translate(err)
}

// SendCheck is what a send checks before queueing, read in one query.
type SendCheck struct {
	AccountStatus apiws.AccountStatus `bun:"account_status"`
	Restricted    bool                `bun:"processing_restricted"`
	NumberStatus  *apiws.NumberStatus `bun:"number_status"` // nil: the account has no such number
}

// CheckSend reads the account's status and restriction and the status of
// its number numberID; ENOTFOUND when the account does not exist.
func (db *DB) CheckSend(ctx context.Context, accountID, numberID string) (*SendCheck, error) {
	var cs []SendCheck
	q := db.hotQuery("CheckSend", func() string {
		return `SELECT a.status AS account_status, a.processing_restricted, n.status AS number_status
		FROM accounts AS a LEFT JOIN numbers AS n ON n.id = ? AND n.account_id = a.id
		WHERE a.id = ?`
	})
	if err := db.queryHot(ctx, q, &cs, numberID, accountID); err != nil {
		return nil, translate(err)
	}
	if len(cs) == 0 {
		return nil, notFound(sql.ErrNoRows, "account")
	}
	return &cs[0], nil
}
