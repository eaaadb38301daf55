package storage

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// Batch is event-writing work of many callers committed in one transaction
// (group commit): each table gets one statement for the whole batch, and one
// bump of an account's event counter hands out the cursors of all its
// events. The counter row is locked from that bump to the commit, so cursors
// of one account are still handed out in commit order.
type Batch struct {
	Queue    []*QueueWrite
	Sent     []*SentWrite
	Receipts []*ReceiptWrite
}

// QueueWrite is a new outbound message: its metadata (QUEUED), its sealed
// content in the outbox and its first event.
type QueueWrite struct {
	Message *apiws.Message
	Sealed  []byte
	// Guard writes the message only if, read in the transaction, its
	// account is active and unrestricted and its number is the account's
	// and CONNECTED (what CheckSend reads): the send's check in the write
	// instead of a round trip of its own.
	Guard bool

	// Set by Write: the QUEUED event; or Err = ErrDuplicate when the
	// idempotency key was used before, ErrRefused when the guard did not
	// hold (then nothing of it is written).
	Event *apiws.LogEvent
	Err   error
}

// SentWrite records WhatsApp's acceptance of outbox items of one number:
// the ones still QUEUED go SENT, and every item leaves the outbox (into the
// debug capture when CaptureID is set). Messages a receipt already moved on
// are only taken out of the outbox.
type SentWrite struct {
	Items        []*OutboxItem
	At           time.Time
	CaptureID    string
	CaptureUntil time.Time
	// Retain is the transit content of the items, kept for retry
	// receipts (see Transit).
	Retain []*Transit

	Events []*apiws.LogEvent // set by Write
}

// ReceiptWrite moves the number's outbound messages with the WhatsApp ids
// forward to Status. A receipt for a message whose acceptance is not
// recorded yet records SENT first, so every log reads QUEUED, SENT,
// DELIVERED, READ.
type ReceiptWrite struct {
	// AccountID is the number's account, when the caller knows it: the
	// transaction then reads its webhook endpoints ahead, and takes a
	// round trip less on PostgreSQL when it has none (see pipeline).
	AccountID string
	NumberID  string
	WAIDs     []string
	Status    apiws.MessageStatus
	Error     *apiws.MessageError
	At        time.Time

	Events []*apiws.LogEvent // set by Write
}

func (b *Batch) empty() bool { return len(b.Queue)+len(b.Sent)+len(b.Receipts) == 0 }

// accounts returns the accounts the batch's events can be of, and false
// when a receipt does not name its account (then they are not known
// before its messages are read).
func (b *Batch) accounts() ([]string, bool) {
	var accounts []string
	for _, q := range b.Queue {
		accounts = append(accounts, q.Message.AccountID)
	}
	for _, s := range b.Sent {
		for _, it := range s.Items {
			accounts = append(accounts, it.AccountID)
			for _, ev := range it.Then {
				accounts = append(accounts, ev.AccountID)
			}
		}
	}
	for _, r := range b.Receipts {
		if r.AccountID == "" {
			return nil, false
		}
		accounts = append(accounts, r.AccountID)
	}
	slices.Sort(accounts)
	return slices.Compact(accounts), true
}

// reset clears what a previous, rolled back attempt set.
func (b *Batch) reset() {
	for _, q := range b.Queue {
		q.Event, q.Err = nil, nil
	}
	for _, s := range b.Sent {
		s.Events = nil
	}
	for _, r := range b.Receipts {
		r.Events = nil
	}
}

// Write commits the batch in one transaction and returns its events in
// cursor order (also set on each write). Only a failure of the whole batch
// is returned; then nothing of it is written. On PostgreSQL the
// transaction's statements go in two or three round trips (see writePipelined).
func (db *DB) Write(ctx context.Context, b *Batch) ([]*apiws.LogEvent, error) {
	if b.empty() {
		return nil, nil
	}
	var evs []*apiws.LogEvent
	var err error
	if db.fixedShape() {
		evs, err = db.writePipelined(ctx, b)
	} else {
		err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			b.reset()
			evs, err = db.writeTx(ctx, tx, b)
			return err
		})
	}
	if err != nil {
		b.reset()
		return nil, err
	}
	slices.SortFunc(evs, func(a, b *apiws.LogEvent) int {
		if c := strings.Compare(a.AccountID, b.AccountID); c != 0 {
			return c
		}
		return int(a.Seq - b.Seq)
	})
	return evs, nil
}

// writeTx writes the batch with bun's statements, one after the other.
func (db *DB) writeTx(ctx context.Context, tx bun.Tx, b *Batch) ([]*apiws.LogEvent, error) {
	inserted := map[string]bool{}
	refused, err := db.refusedSends(ctx, tx, b.Queue)
	if err != nil {
		return nil, err
	}
	if ms := b.messages(refused); len(ms) > 0 {
		var ids []string
		if err := tx.NewInsert().Model(&ms).On("CONFLICT DO NOTHING").Returning("id").Scan(ctx, &ids); err != nil {
			return nil, err
		}
		for _, id := range ids {
			inserted[id] = true
		}
	}
	items, evs := b.queued(inserted, refused)
	if len(items) > 0 {
		if err := insertOutbox.exec(ctx, db, tx, items); err != nil {
			return nil, err
		}
	}
	var ms []*apiws.Message
	if ids, numbers, waIDs := b.moving(); len(ids)+len(waIDs) > 0 {
		if err := db.lockMessages(ctx, tx, ids, numbers, waIDs, &ms); err != nil {
			return nil, err
		}
	}
	moved, changed := b.advance(ms)
	evs = append(evs, moved...)
	if err := db.updateStatuses(ctx, tx, changed); err != nil {
		return nil, err
	}
	for _, s := range b.Sent {
		if err := db.moveContents(ctx, tx, s.Items, s.CaptureID, s.CaptureUntil); err != nil {
			return nil, err
		}
		if err := db.retainTransit(ctx, tx, s.Retain); err != nil {
			return nil, err
		}
	}
	if err := db.dropTransit(ctx, tx, b.Receipts); err != nil {
		return nil, err
	}
	return evs, db.appendEvents(ctx, tx, evs)
}

// messages returns the messages the batch queues, but the refused ones.
func (b *Batch) messages(refused map[string]bool) []*apiws.Message {
	ms := make([]*apiws.Message, 0, len(b.Queue))
	for _, q := range b.Queue {
		if !refused[q.Message.ID] {
			ms = append(ms, q.Message)
		}
	}
	return ms
}

// guards returns whether each message of the batch is guarded.
func (b *Batch) guards() []bool {
	gs := make([]bool, len(b.Queue))
	for i, q := range b.Queue {
		gs[i] = q.Guard
	}
	return gs
}

// queued returns the outbox items and QUEUED events of the batch's new
// messages that were inserted; one its guard refused is left out with
// ErrRefused, one whose id or idempotency key was taken with ErrDuplicate.
func (b *Batch) queued(inserted, refused map[string]bool) ([]*OutboxItem, []*apiws.LogEvent) {
	var items []*OutboxItem
	var evs []*apiws.LogEvent
	for _, q := range b.Queue {
		m := q.Message
		switch {
		case refused[m.ID]:
			q.Err = ErrRefused
			continue
		case !inserted[m.ID]:
			q.Err = ErrDuplicate
			continue
		}
		items = append(items, &OutboxItem{MessageID: m.ID, AccountID: m.AccountID, NumberID: m.NumberID, Content: q.Sealed, NextAttemptAt: *m.QueuedAt})
		q.Event = &apiws.LogEvent{AccountID: m.AccountID, Type: apiws.EventTypeMessageStatus, MessageID: m.ID, NumberID: m.NumberID, Status: apiws.StatusQueued, At: *m.QueuedAt}
		evs = append(evs, q.Event)
	}
	return items, evs
}

// moving returns what names the messages the batch's acceptances and
// receipts move: their ids, and the number and WhatsApp id of each
// message of the receipts (numbers[i] with waIDs[i]).
func (b *Batch) moving() (ids, numbers, waIDs []string) {
	for _, s := range b.Sent {
		for _, it := range s.Items {
			ids = append(ids, it.MessageID)
		}
	}
	numbers, waIDs = receiptKeys(b.Receipts, func(*ReceiptWrite) bool { return true })
	return ids, numbers, waIDs
}

// receiptKeys returns the number and WhatsApp id of each message of the
// receipts that pass keep, in pairs.
func receiptKeys(rs []*ReceiptWrite, keep func(*ReceiptWrite) bool) (numbers, waIDs []string) {
	for _, r := range rs {
		if keep(r) {
			for _, wa := range r.WAIDs {
				numbers = append(numbers, r.NumberID)
				waIDs = append(waIDs, wa)
			}
		}
	}
	return numbers, waIDs
}

// advance applies the acceptances, then the receipts, of the batch to ms,
// the messages they name (read and locked), and returns the events of the
// steps taken and the messages that moved.
func (b *Batch) advance(ms []*apiws.Message) ([]*apiws.LogEvent, []*apiws.Message) {
	byID := make(map[string]*apiws.Message, len(ms))
	byWA := make(map[[2]string]*apiws.Message, len(ms))
	for _, m := range ms {
		byID[m.ID] = m
		if m.WAMessageID != nil && m.Direction == apiws.Outbound {
			byWA[[2]string{m.NumberID, *m.WAMessageID}] = m
		}
	}

	var evs []*apiws.LogEvent
	moved := map[string]bool{}
	for _, s := range b.Sent {
		for _, it := range s.Items {
			m := byID[it.MessageID]
			if m == nil {
				continue
			}
			if m.Status == apiws.StatusQueued {
				ev := m.Step(apiws.StatusSent, s.At, nil)
				s.Events = append(s.Events, ev)
				evs = append(evs, ev)
				moved[m.ID] = true
			}
			// Logged even when a receipt moved the message on first:
			// the item leaves the outbox once, and only here.
			for _, ev := range it.Then {
				s.Events = append(s.Events, ev)
				evs = append(evs, ev)
			}
		}
	}
	for _, r := range b.Receipts {
		for _, wa := range r.WAIDs {
			m := byWA[[2]string{r.NumberID, wa}]
			if m == nil {
				continue
			}
			if steps := m.ApplyReceipt(r.Status, r.At, r.Error); len(steps) > 0 {
				r.Events = append(r.Events, steps...)
				evs = append(evs, steps...)
				moved[m.ID] = true
			}
		}
	}
	var changed []*apiws.Message
	for _, m := range ms {
		if moved[m.ID] {
			changed = append(changed, m)
		}
	}
	// Content is kept for retry receipts only while the recipient may not
	// have the message: one whose DELIVERED (or later) receipt committed
	// before its acceptance keeps none, but a poll's (see Transit).
	for _, s := range b.Sent {
		s.Retain = slices.DeleteFunc(s.Retain, func(t *Transit) bool {
			m := byID[t.MessageID]
			return m == nil || m.Status != apiws.StatusSent && m.Kind != apiws.KindPoll
		})
	}
	return evs, changed
}

// lockMessages reads and locks, ordered by id, the messages with the ids
// and the outbound ones of the numbers with the WhatsApp ids, in pairs.
func (db *DB) lockMessages(ctx context.Context, tx bun.Tx, ids, numbers, waIDs []string, ms *[]*apiws.Message) error {
	q := tx.NewSelect().Model(ms).WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		if len(ids) > 0 {
			q = q.WhereOr("id IN (?)", bun.List(ids))
		}
		if len(waIDs) > 0 {
			in, args := pairsIn(numbers, waIDs)
			q = q.WhereOr("(number_id, wa_message_id) "+in+" AND direction = ?", append(args, apiws.Outbound)...)
		}
		return q
	}).OrderExpr("id")
	return db.forUpdate(q).Scan(ctx)
}

// sendAllowed is the condition on an account a and a number n joined on
// it that the account may send through the number: what CheckSend reads,
// as a guard.
const sendAllowed = `a.status = '` + string(apiws.AccountActive) + `' AND NOT a.processing_restricted
	AND n.status = '` + string(apiws.NumberConnected) + `'`

// refusedSends returns the guarded messages of qs whose account may not
// send through their number, read in tx (the bun path's guard; the
// pipeline's is in its insert).
func (db *DB) refusedSends(ctx context.Context, tx bun.Tx, qs []*QueueWrite) (map[string]bool, error) {
	type pair struct{ account, number string }
	asked := map[pair]bool{}
	var accounts, numbers []string
	for _, q := range qs {
		p := pair{q.Message.AccountID, q.Message.NumberID}
		if q.Guard && !asked[p] {
			asked[p] = true
			accounts, numbers = append(accounts, p.account), append(numbers, p.number)
		}
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	in, args := pairsIn(accounts, numbers)
	var okAccounts, okNumbers []string
	err := tx.NewRaw(`SELECT a.id, n.id FROM accounts AS a JOIN numbers AS n ON n.account_id = a.id
		WHERE (a.id, n.id) `+in+` AND `+sendAllowed, args...).Scan(ctx, &okAccounts, &okNumbers)
	if err != nil {
		return nil, err
	}
	allowed := map[pair]bool{}
	for i := range okAccounts {
		allowed[pair{okAccounts[i], okNumbers[i]}] = true
	}
	refused := map[string]bool{}
	for _, q := range qs {
		if q.Guard && !allowed[pair{q.Message.AccountID, q.Message.NumberID}] {
			refused[q.Message.ID] = true
		}
	}
	return refused, nil
}

// pairsIn is the condition "IN (VALUES (a[0], b[0]), …)" on a pair of
// columns, and its values.
func pairsIn(a, b []string) (string, []any) {
	var in strings.Builder
	args := make([]any, 0, 2*len(a))
	in.WriteString("IN (VALUES ")
	for i := range a {
		if i > 0 {
			in.WriteString(", ")
		}
		in.WriteString("(?, ?)")
		args = append(args, a[i], b[i])
	}
	in.WriteString(")")
	return in.String(), args
}

// updateStatuses writes the status, its times and the error of messages
// read and locked in this transaction, in one statement (see caseUpdate).
func (db *DB) updateStatuses(ctx context.Context, tx bun.Tx, ms []*apiws.Message) error {
	if len(ms) == 0 {
		return nil
	}
	u := newCaseUpdate("messages", ms, func(m *apiws.Message) string { return m.ID })
	column := u.set
	column("status", func(m *apiws.Message) any { return string(m.Status) })
	times := []struct {
		name string
		get  func(m *apiws.Message) *time.Time
	}{
		{"sent_at", func(m *apiws.Message) *time.Time { return m.SentAt }},
		{"delivered_at", func(m *apiws.Message) *time.Time { return m.DeliveredAt }},
		{"read_at", func(m *apiws.Message) *time.Time { return m.ReadAt }},
		{"played_at", func(m *apiws.Message) *time.Time { return m.PlayedAt }},
		{"failed_at", func(m *apiws.Message) *time.Time { return m.FailedAt }},
	}
	for _, c := range times {
		column(c.name, func(m *apiws.Message) any {
			if t := c.get(m); t != nil {
				return t.UTC()
			}
			return nil
		})
	}
	column("error", func(m *apiws.Message) any {
		if m.Error == nil {
			return nil
		}
		b, _ := json.Marshal(m.Error)
		return string(b)
	})
	return u.exec(ctx, tx, "")
}

// caseUpdate writes rows of a table in one statement: each column set is a
// CASE over the rows' ids (its ELSE, never taken, gives the literals their
// type).
type caseUpdate[T any] struct {
	sql  strings.Builder
	args []any
	sets int
	rows []T
	id   func(T) string
}

func newCaseUpdate[T any](table string, rows []T, id func(T) string) *caseUpdate[T] {
	u := &caseUpdate[T]{rows: rows, id: id}
	u.sql.WriteString("UPDATE " + table + " SET ")
	return u
}

// set sets column name of each row to value(row).
func (u *caseUpdate[T]) set(name string, value func(T) any) {
	if u.sets > 0 {
		u.sql.WriteString(", ")
	}
	u.sets++
	u.sql.WriteString(name + " = CASE id")
	for _, r := range u.rows {
		u.sql.WriteString(" WHEN ? THEN ?")
		u.args = append(u.args, u.id(r), value(r))
	}
	u.sql.WriteString(" ELSE " + name + " END")
}

// exec runs the update of the rows, and of those only where and, its
// placeholders filled by args, holds ("" for no more condition).
func (u *caseUpdate[T]) exec(ctx context.Context, tx bun.Tx, and string, args ...any) error {
	ids := make([]string, len(u.rows))
	for i, r := range u.rows {
		ids[i] = u.id(r)
	}
	u.sql.WriteString(" WHERE id IN (?)")
	u.args = append(u.args, bun.List(ids))
	if and != "" {
		u.sql.WriteString(" AND " + and)
		u.args = append(u.args, args...)
	}
	_, err := tx.NewRaw(u.sql.String(), u.args...).Exec(ctx)
	return err
}

// moveContents deletes outbox items, keeping their content under a debug
// capture when there is one.
func (db *DB) moveContents(ctx context.Context, tx bun.Tx, items []*OutboxItem, captureID string, until time.Time) error {
	if len(items) == 0 {
		return nil
	}
	if cs := capturedOf(items, captureID, until); len(cs) > 0 {
		if err := insertCaptured.exec(ctx, db, tx, cs); err != nil {
			return err
		}
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.MessageID
	}
	_, err := tx.NewDelete().Model((*OutboxItem)(nil)).Where("message_id IN (?)", bun.List(ids)).Exec(ctx)
	return err
}

// capturedOf returns the debug capture's copies of the content of items
// (until the time given), none without a capture.
func capturedOf(items []*OutboxItem, captureID string, until time.Time) []*capturedContent {
	if captureID == "" {
		return nil
	}
	cs := make([]*capturedContent, len(items))
	for i, it := range items {
		cs[i] = &capturedContent{MessageID: it.MessageID, CaptureID: captureID, AccountID: it.AccountID, Content: it.Content, Until: until}
	}
	return cs
}

// appendEvents adds events to their accounts' logs: one counter bump per
// account (in account order, so two batches never wait on each other's
// counters crosswise) hands out consecutive cursors in the order of evs,
// then one insert writes them all. Call it last in the transaction: the
// counter row stays locked until the commit.
//
// Every event is logged so, its account's counter bumped in the same
// transaction (here, in the pipeline, and in bumpAndLogText), and every
// message is inserted with its first event: on PostgreSQL neither has a
// foreign key to its account, and the account's deletion relies on the
// counter to wait for the messages and events in flight (migration
// account_checks).
func (db *DB) appendEvents(ctx context.Context, tx bun.Tx, evs []*apiws.LogEvent) error {
	if len(evs) == 0 {
		return nil
	}
	accounts, byAccount := eventsByAccount(evs)
	// Read before the counters are locked, which they stay until the commit.
	endpoints, err := db.webhookEndpointsOf(ctx, tx, accounts)
	if err != nil {
		return err
	}
	if err := db.bumpCounters(ctx, tx, accounts, byAccount); err != nil {
		return err
	}
	if err := insertEvents.exec(ctx, db, tx, evs); err != nil {
		return err
	}
	if err := db.keepContent(ctx, tx, evs); err != nil {
		return err
	}
	return enqueueDeliveries(ctx, tx, endpoints, evs)
}

// eventsByAccount groups events by account, in their order, and returns
// the accounts sorted.
func eventsByAccount(evs []*apiws.LogEvent) ([]string, map[string][]*apiws.LogEvent) {
	byAccount := map[string][]*apiws.LogEvent{}
	for _, ev := range evs {
		byAccount[ev.AccountID] = append(byAccount[ev.AccountID], ev)
	}
	accounts := make([]string, 0, len(byAccount))
	for acc := range byAccount {
		accounts = append(accounts, acc)
	}
	slices.Sort(accounts)
	return accounts, byAccount
}

// bumpCounters hands out the cursors of the events of each account,
// consecutive in the order of its group, the accounts' counters bumped
// (and locked) in the order of accounts.
func (db *DB) bumpCounters(ctx context.Context, tx bun.Tx, accounts []string, byAccount map[string][]*apiws.LogEvent) error {
	if db.fixedShape() {
		last, err := db.bumpCountersFixed(ctx, tx, bumpArgs(accounts, byAccount)...)
		if err != nil {
			return err
		}
		numberAll(accounts, byAccount, last)
		return nil
	}
	for _, acc := range accounts {
		group := byAccount[acc]
		var last int64
		err := tx.NewRaw(`INSERT INTO event_counters (account_id, last_seq) VALUES (?, ?)
			ON CONFLICT (account_id) DO UPDATE SET last_seq = event_counters.last_seq + EXCLUDED.last_seq
			RETURNING last_seq`, acc, len(group)).Scan(ctx, &last)
		if err != nil {
			return err
		}
		numberFrom(group, last)
	}
	return nil
}

// bumpArgs are the parameters of bumpCounters (the statement) for the
// events of the accounts: the accounts, and how many events each.
func bumpArgs(accounts []string, byAccount map[string][]*apiws.LogEvent) []any {
	n := make([]int64, len(accounts))
	for i, acc := range accounts {
		n[i] = int64(len(byAccount[acc]))
	}
	return []any{texts(accounts), n}
}

// readCounters reads the rows of bumpCounters (the statement) into last:
// each account's new counter.
func readCounters(rows interface {
	Next() bool
	Scan(...any) error
}, last map[string]int64) error {
	for rows.Next() {
		var acc string
		var seq int64
		if err := rows.Scan(&acc, &seq); err != nil {
			return err
		}
		last[acc] = seq
	}
	return nil
}

// numberAll gives the events of each account the cursors up to its new
// counter in last (keyed as PostgreSQL returned the accounts).
func numberAll(accounts []string, byAccount map[string][]*apiws.LogEvent, last map[string]int64) {
	for _, acc := range accounts {
		numberFrom(byAccount[acc], last[sqlText(acc)])
	}
}

// numberFrom gives the events of group the cursors up to last, in order.
func numberFrom(group []*apiws.LogEvent, last int64) {
	first := last - int64(len(group)) + 1
	for i, ev := range group {
		ev.Seq = first + int64(i)
	}
}
