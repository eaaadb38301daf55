package storage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// The writes of a Batch (batch.go) name a different number of rows each
// time: written by bun, with their values in the text, every one is new to
// PostgreSQL, parsed and planned again. On PostgreSQL they are written here
// instead with a text that depends on nothing but the table: each column's
// values go as one array parameter (INSERT … SELECT * FROM unnest($1, $2,
// …), UPDATE … FROM unnest(…), WHERE … = ANY($1)), so each is prepared
// once per connection. A Batch's transaction runs them pipelined
// (pipeline.go), each on its one generic plan; the other transactions that
// log events (appendEvents: edits, inbound messages, groups, numbers) run
// the event-writing ones through database/sql (see planOnce and planEach),
// as the hot statements of prepared.go.
//
// They write what bun writes, byte for byte: the same columns, NULL where
// bun writes NULL (a nil pointer, a zero nullzero field), texts as bun
// turns them into literals (sqlText), JSON columns as bun encodes them
// (bunJSON), times to the microsecond, rows in the order given. SQLite
// keeps bun's statements: it parses a statement in microseconds.

// How a fixed-shape statement runs through database/sql (the pipeline
// has its own way, see planSettings). An insert of arrays has one plan,
// whatever its values and the table's size: pgx prepares it once per
// connection and PostgreSQL plans it once (planOnce). A statement that
// finds rows of a table (by key, or joined with its arrays) is planned
// again each time with its values, its text described once (planEach, one
// round trip): PostgreSQL would soon settle on a generic plan made with
// the table's statistics of that moment, and keep it until the table is
// next analyzed; made while the table was small, it scans the whole table
// (measured: the messages' lock then cost five times as much once they
// had grown to a few thousand).
const (
	planOnce = pgx.QueryExecModeCacheStatement
	planEach = pgx.QueryExecModeCacheDescribe
)

// execMode is how a fixed-shape statement runs: as mode says or, when the
// connections take no prepared statements (simpleProtocol), with its
// values in its text like every other statement.
func (db *DB) execMode(mode pgx.QueryExecMode) pgx.QueryExecMode {
	if db.simpleProtocol {
		return pgx.QueryExecModeSimpleProtocol
	}
	return mode
}

// fixedShape reports whether the batch's writes go through this file (and
// the pipeline).
func (db *DB) fixedShape() bool { return db.Dialect == Postgres && !db.inlineBatch }

// execTx runs a fixed-shape statement of tx in mode (planOnce, planEach).
func (db *DB) execTx(ctx context.Context, tx bun.Tx, mode pgx.QueryExecMode, query string, args ...any) error {
	return db.execIn(ctx, tx.Tx, mode, query, args...)
}

// execIn runs a statement of a fixed text on q (the database or a
// transaction) in mode.
func (db *DB) execIn(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, mode pgx.QueryExecMode, query string, args ...any) error {
	db.queries.add(1)
	_, err := q.ExecContext(ctx, query, append([]any{db.execMode(mode)}, args...)...)
	return err
}

// queryTx runs a fixed-shape statement of tx in mode and scans its rows
// into dest as bun would.
func (db *DB) queryTx(ctx context.Context, tx bun.Tx, mode pgx.QueryExecMode, query string, dest any, args ...any) error {
	rows, err := db.rowsIn(ctx, tx.Tx, mode, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return db.Bun.ScanRows(ctx, rows, dest)
}

// rowsIn runs a statement of a fixed text on q (the database or a
// transaction) in mode, and returns its rows.
func (db *DB) rowsIn(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, mode pgx.QueryExecMode, query string, args ...any) (*sql.Rows, error) {
	db.queries.add(1)
	return q.QueryContext(ctx, query, append([]any{db.execMode(mode)}, args...)...)
}

// arrayColumn is a column of an unnest write: its name, the PostgreSQL
// type of its values, and how to make the array of the rows' values.
type arrayColumn[T any] struct {
	name, typ string
	values    func(rows []T) any
}

// unnestWrite is an INSERT of rows of T of a fixed text.
type unnestWrite[T any] struct {
	query string
	tail  string // its ON CONFLICT (or RETURNING) clause
	cols  []arrayColumn[T]
}

// newUnnestInsert returns the INSERT into table of the columns, followed
// by tail (an ON CONFLICT or RETURNING clause, or "").
func newUnnestInsert[T any](table, tail string, cols ...arrayColumn[T]) *unnestWrite[T] {
	w := &unnestWrite[T]{tail: tail, cols: cols}
	names, params := w.columns(1)
	w.query = "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") SELECT * FROM unnest(" + strings.Join(params, ", ") + ")"
	if tail != "" {
		w.query += " " + tail
	}
	return w
}

// columns returns the names of w's columns and the parameters of their
// arrays, numbered from first.
func (w *unnestWrite[T]) columns(first int) (names, params []string) {
	for i, c := range w.cols {
		names = append(names, c.name)
		params = append(params, "$"+strconv.Itoa(first+i)+"::"+c.typ+"[]")
	}
	return names, params
}

// without is w's columns but the one named name (no statement of its own).
func (w *unnestWrite[T]) without(name string) *unnestWrite[T] {
	cols := slices.DeleteFunc(slices.Clone(w.cols), func(c arrayColumn[T]) bool { return c.name == name })
	return &unnestWrite[T]{cols: cols}
}

// exec writes rows: with w's statement on PostgreSQL, else with bun's
// insert of the same rows and conflict clause.
func (w *unnestWrite[T]) exec(ctx context.Context, db *DB, tx bun.Tx, rows []T) error {
	if db.fixedShape() {
		return db.execTx(ctx, tx, planOnce, w.query, w.args(rows)...)
	}
	q := tx.NewInsert().Model(&rows)
	if conflict, ok := strings.CutPrefix(w.tail, "ON "); ok {
		q = q.On(conflict)
	}
	_, err := q.Exec(ctx)
	return err
}

// args returns the statement's parameters for rows: one array a column.
func (w *unnestWrite[T]) args(rows []T) []any {
	args := make([]any, len(w.cols))
	for i, c := range w.cols {
		args[i] = c.values(rows)
	}
	return args
}

func textColumn[T any](name string, get func(T) string) arrayColumn[T] {
	return arrayColumn[T]{name, "text", func(rows []T) any {
		vs := make([]string, len(rows))
		for i, r := range rows {
			vs[i] = sqlText(get(r))
		}
		return vs
	}}
}

// nullTextColumn is a text column that is NULL where get gives nil.
func nullTextColumn[T any](name string, get func(T) *string) arrayColumn[T] {
	return arrayColumn[T]{name, "text", func(rows []T) any {
		vs := make([]*string, len(rows))
		for i, r := range rows {
			if s := get(r); s != nil {
				t := sqlText(*s)
				vs[i] = &t
			}
		}
		return vs
	}}
}

// zeroNullTextColumn is the text column of a nullzero field: NULL for "".
func zeroNullTextColumn[T any](name string, get func(T) string) arrayColumn[T] {
	return nullTextColumn(name, func(r T) *string {
		if s := get(r); s != "" {
			return &s
		}
		return nil
	})
}

// jsonColumn is a text column holding get's value as bun encodes it, NULL
// where get gives nil.
func jsonColumn[T any](name string, get func(T) any) arrayColumn[T] {
	return arrayColumn[T]{name, "text", func(rows []T) any {
		vs := make([]*string, len(rows))
		for i, r := range rows {
			vs[i] = bunJSON(get(r))
		}
		return vs
	}}
}

func timeColumn[T any](name string, get func(T) time.Time) arrayColumn[T] {
	return arrayColumn[T]{name, "timestamptz", func(rows []T) any {
		vs := make([]time.Time, len(rows))
		for i, r := range rows {
			vs[i] = get(r)
		}
		return vs
	}}
}

// nullTimeColumn is a timestamptz column that is NULL where get gives nil.
func nullTimeColumn[T any](name string, get func(T) *time.Time) arrayColumn[T] {
	return arrayColumn[T]{name, "timestamptz", func(rows []T) any {
		vs := make([]*time.Time, len(rows))
		for i, r := range rows {
			vs[i] = get(r)
		}
		return vs
	}}
}

// bytesColumn is a bytea column; a nil slice is NULL, as bun writes it.
func bytesColumn[T any](name string, get func(T) []byte) arrayColumn[T] {
	return arrayColumn[T]{name, "bytea", func(rows []T) any {
		vs := make([][]byte, len(rows))
		for i, r := range rows {
			vs[i] = get(r)
		}
		return vs
	}}
}

func int64Column[T any](name, typ string, get func(T) int64) arrayColumn[T] {
	return arrayColumn[T]{name, typ, func(rows []T) any {
		vs := make([]int64, len(rows))
		for i, r := range rows {
			vs[i] = get(r)
		}
		return vs
	}}
}

// sqlText is s as bun writes it into a statement: each byte of s that is
// not part of valid UTF-8 becomes U+FFFD.
func sqlText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// bunJSON is v as bun writes a JSON column of a model: encoding/json's
// text, where bun's writing of it as a literal doubles the backslash of
// each \u0000 (encoding/json writes no NUL byte, which bun would drop);
// nil for a nil v.
func bunJSON(v any) *string {
	if v == nil {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		// bun fails the statement; so does a value PostgreSQL cannot take.
		s := "\x00"
		return &s
	}
	s := string(bytes.ReplaceAll(raw, []byte(`\u0000`), []byte(`\\u0000`)))
	return &s
}

// messageError is m's error as a JSON column's value: nil when it has
// none (a nil *MessageError in an any would not be nil).
func messageError(e *apiws.MessageError) any {
	if e == nil {
		return nil
	}
	return e
}

// insertMessages gives the columns and arrays of queueMessagesText.
var insertMessages = newUnnestInsert("messages", "ON CONFLICT DO NOTHING RETURNING id",
	textColumn("id", func(m *apiws.Message) string { return m.ID }),
	textColumn("account_id", func(m *apiws.Message) string { return m.AccountID }),
	textColumn("number_id", func(m *apiws.Message) string { return m.NumberID }),
	textColumn("direction", func(m *apiws.Message) string { return string(m.Direction) }),
	textColumn("peer", func(m *apiws.Message) string { return m.Peer }),
	nullTextColumn("peer_lid", func(m *apiws.Message) *string { return m.PeerLID }),
	nullTextColumn("reply_to", func(m *apiws.Message) *string { return m.ReplyTo }),
	nullTextColumn("group_id", func(m *apiws.Message) *string { return m.GroupID }),
	textColumn("kind", func(m *apiws.Message) string { return string(m.Kind) }),
	textColumn("status", func(m *apiws.Message) string { return string(m.Status) }),
	nullTextColumn("wa_message_id", func(m *apiws.Message) *string { return m.WAMessageID }),
	nullTextColumn("client_reference", func(m *apiws.Message) *string { return m.ClientReference }),
	jsonColumn("error", func(m *apiws.Message) any { return messageError(m.Error) }),
	nullTimeColumn("queued_at", func(m *apiws.Message) *time.Time { return m.QueuedAt }),
	nullTimeColumn("sent_at", func(m *apiws.Message) *time.Time { return m.SentAt }),
	nullTimeColumn("delivered_at", func(m *apiws.Message) *time.Time { return m.DeliveredAt }),
	nullTimeColumn("read_at", func(m *apiws.Message) *time.Time { return m.ReadAt }),
	nullTimeColumn("played_at", func(m *apiws.Message) *time.Time { return m.PlayedAt }),
	nullTimeColumn("failed_at", func(m *apiws.Message) *time.Time { return m.FailedAt }),
	nullTimeColumn("received_at", func(m *apiws.Message) *time.Time { return m.ReceivedAt }),
	nullTimeColumn("edited_at", func(m *apiws.Message) *time.Time { return m.EditedAt }),
	nullTimeColumn("revoked_at", func(m *apiws.Message) *time.Time { return m.RevokedAt }),
	nullTextColumn("idempotency_key", func(m *apiws.Message) *string { return m.IdempotencyKey }),
	bytesColumn("request_hash", func(m *apiws.Message) []byte { return m.RequestHash }),
)

// queueMessagesText inserts new messages as insertMessages does, with one
// array more, whether each is guarded (QueueWrite.Guard): a guarded
// message its account may not send through its number is not inserted.
// It answers the id of each message inserted (false) and of each refused
// (true); one in neither had its id or idempotency key taken. A guarded
// message finds its number and account by their keys (left joins, so that
// the generic plan looks each up rather than reading every connected
// number).
var queueMessagesText = func() string {
	names, params := insertMessages.columns(1)
	cols := strings.Join(names, ", ")
	guards := "$" + strconv.Itoa(len(params)+1) + "::boolean[]"
	return `WITH u AS (SELECT v.*, v.guarded AND NOT COALESCE(` + sendAllowed + `, false) AS refused
		FROM unnest(` + strings.Join(params, ", ") + `, ` + guards + `) AS v(` + cols + `, guarded)
		LEFT JOIN numbers AS n ON v.guarded AND n.id = v.number_id AND n.account_id = v.account_id
		LEFT JOIN accounts AS a ON v.guarded AND a.id = v.account_id),
	inserted AS (INSERT INTO messages (` + cols + `) SELECT ` + cols + ` FROM u WHERE NOT u.refused
		ON CONFLICT DO NOTHING RETURNING id)
	SELECT id, false FROM inserted UNION ALL SELECT id, true FROM u WHERE u.refused`
}()

var insertOutbox = newUnnestInsert("outbox", "",
	textColumn("message_id", func(it *OutboxItem) string { return it.MessageID }),
	textColumn("account_id", func(it *OutboxItem) string { return it.AccountID }),
	textColumn("number_id", func(it *OutboxItem) string { return it.NumberID }),
	bytesColumn("content", func(it *OutboxItem) []byte { return it.Content }),
	int64Column("attempts", "integer", func(it *OutboxItem) int64 { return int64(it.Attempts) }),
	timeColumn("next_attempt_at", func(it *OutboxItem) time.Time { return it.NextAttemptAt }),
)

var insertEvents = newUnnestInsert("log_events", "",
	textColumn("account_id", func(ev *apiws.LogEvent) string { return ev.AccountID }),
	int64Column("seq", "bigint", func(ev *apiws.LogEvent) int64 { return ev.Seq }),
	textColumn("type", func(ev *apiws.LogEvent) string { return string(ev.Type) }),
	textColumn("number_id", func(ev *apiws.LogEvent) string { return ev.NumberID }),
	zeroNullTextColumn("message_id", func(ev *apiws.LogEvent) string { return ev.MessageID }),
	zeroNullTextColumn("wa_message_id", func(ev *apiws.LogEvent) string { return ev.WAMessageID }),
	zeroNullTextColumn("status", func(ev *apiws.LogEvent) string { return string(ev.Status) }),
	jsonColumn("error", func(ev *apiws.LogEvent) any { return messageError(ev.Error) }),
	jsonColumn("detail", func(ev *apiws.LogEvent) any {
		if ev.Detail == nil {
			return nil
		}
		return ev.Detail
	}),
	timeColumn("at", func(ev *apiws.LogEvent) time.Time { return ev.At }),
)

var insertTransit = newUnnestInsert("transit", "ON CONFLICT DO NOTHING",
	textColumn("message_id", func(t *Transit) string { return t.MessageID }),
	textColumn("number_id", func(t *Transit) string { return t.NumberID }),
	textColumn("wa_message_id", func(t *Transit) string { return t.WAMessageID }),
	bytesColumn("content", func(t *Transit) []byte { return t.Content }),
	timeColumn("expires_at", func(t *Transit) time.Time { return t.ExpiresAt }),
)

var insertInboundTransit = newUnnestInsert("inbound_transit", "",
	textColumn("account_id", func(t *InboundTransit) string { return t.AccountID }),
	int64Column("seq", "bigint", func(t *InboundTransit) int64 { return t.Seq }),
	bytesColumn("content", func(t *InboundTransit) []byte { return t.Content }),
	bytesColumn("media", func(t *InboundTransit) []byte { return t.Media }),
	timeColumn("expires_at", func(t *InboundTransit) time.Time { return t.ExpiresAt }),
)

var insertCaptured = newUnnestInsert("captured_contents", "ON CONFLICT (message_id) DO NOTHING",
	textColumn("message_id", func(c *capturedContent) string { return c.MessageID }),
	textColumn("capture_id", func(c *capturedContent) string { return c.CaptureID }),
	textColumn("account_id", func(c *capturedContent) string { return c.AccountID }),
	bytesColumn("content", func(c *capturedContent) []byte { return c.Content }),
	timeColumn("until", func(c *capturedContent) time.Time { return c.Until }),
)

// bumpCounters hands out the cursors of all accounts of a batch in one
// statement: PostgreSQL takes the rows, so the counters' locks, in the
// order of the arrays (the accounts sorted).
const bumpCounters = `INSERT INTO event_counters (account_id, last_seq) SELECT * FROM unnest($1::text[], $2::bigint[])
	ON CONFLICT (account_id) DO UPDATE SET last_seq = event_counters.last_seq + EXCLUDED.last_seq
	RETURNING account_id, last_seq`

// unnumberedEvents are insertEvents's columns but seq, which
// bumpAndLogText hands out.
var unnumberedEvents = insertEvents.without("seq")

// bumpAndLogText is bumpCounters and insertEvents in one statement: the
// events' cursors are handed out in PostgreSQL, each event's the last of
// its account's bumped counter less the account's events after it (its
// arrays: insertEvents's but seq, then each event's place in its
// account's group, from 1, and the group's size). It answers what
// bumpCounters answers, so that the events are numbered alike in memory
// (numberAll).
var bumpAndLogText = func() string {
	names, params := unnumberedEvents.columns(3)
	n := len(params)
	params = append(params, "$"+strconv.Itoa(n+3)+"::bigint[]", "$"+strconv.Itoa(n+4)+"::bigint[]")
	cols := strings.Join(names, ", ")
	return `WITH bump AS (` + bumpCounters + `),
	logged AS (INSERT INTO log_events (seq, ` + cols + `)
		SELECT b.last_seq - e.group_size + e.place, e.` + strings.Join(names, ", e.") + `
		FROM unnest(` + strings.Join(params, ", ") + `) AS e(` + cols + `, place, group_size)
		JOIN bump AS b ON b.account_id = e.account_id)
	SELECT account_id, last_seq FROM bump`
}()

// bumpAndLogArgs returns bumpAndLogText's parameters for the events of
// each account (byAccount, as numberAll numbers them).
func bumpAndLogArgs(evs []*apiws.LogEvent, accounts []string, byAccount map[string][]*apiws.LogEvent) []any {
	args := append(bumpArgs(accounts, byAccount), unnumberedEvents.args(evs)...)
	place, size := make([]int64, len(evs)), make([]int64, len(evs))
	seen := map[string]int64{}
	for i, ev := range evs {
		seen[ev.AccountID]++
		place[i], size[i] = seen[ev.AccountID], int64(len(byAccount[ev.AccountID]))
	}
	return append(args, place, size)
}

// updateStatusesText sets the status, its times and the error of messages,
// one row of the arrays a message.
const updateStatusesText = `UPDATE messages SET status = v.status, sent_at = v.sent_at, delivered_at = v.delivered_at,
	read_at = v.read_at, played_at = v.played_at, failed_at = v.failed_at, error = v.error
	FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[], $8::text[])
		AS v(id, status, sent_at, delivered_at, read_at, played_at, failed_at, error)
	WHERE messages.id = v.id`

const deleteOutboxText = `DELETE FROM outbox WHERE message_id = ANY($1::text[])`

// dropTransitText deletes the transit content of the numbers $1 and
// WhatsApp ids $2, in pairs, but a poll's ($3).
const dropTransitText = `DELETE FROM transit USING unnest($1::text[], $2::text[]) AS k(number_id, wa_message_id)
	WHERE transit.number_id = k.number_id AND transit.wa_message_id = k.wa_message_id
	AND NOT EXISTS (SELECT 1 FROM messages WHERE messages.id = transit.message_id AND messages.kind = $3)`

// bumpCountersFixed runs bumpCounters with args (bumpArgs) and returns
// the counters' new values by account.
func (db *DB) bumpCountersFixed(ctx context.Context, tx bun.Tx, args ...any) (map[string]int64, error) {
	rows, err := db.rowsIn(ctx, tx.Tx, planOnce, bumpCounters, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	last := map[string]int64{}
	if err := readCounters(rows, last); err != nil {
		return nil, err
	}
	return last, rows.Err()
}

// statusArgs returns updateStatusesText's parameters for ms: their status,
// its times and their error, as bun's update would write them.
func statusArgs(ms []*apiws.Message) []any {
	n := len(ms)
	ids, statuses, errs := make([]string, n), make([]string, n), make([]*string, n)
	times := [5][]*time.Time{}
	for i := range times {
		times[i] = make([]*time.Time, n)
	}
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	for i, m := range ms {
		ids[i], statuses[i] = sqlText(m.ID), sqlText(string(m.Status))
		for j, t := range []*time.Time{m.SentAt, m.DeliveredAt, m.ReadAt, m.PlayedAt, m.FailedAt} {
			times[j][i] = utc(t)
		}
		if m.Error != nil {
			// As updateStatuses passes it to bun: a string, not a JSON value.
			b, _ := json.Marshal(m.Error)
			s := sqlText(string(b))
			errs[i] = &s
		}
	}
	return []any{ids, statuses, times[0], times[1], times[2], times[3], times[4], errs}
}

// lockMessagesText reads and locks, ordered by id, the messages with the
// ids $1 and the outbound ones of the numbers $2 with the WhatsApp ids $3,
// in pairs ($4 is 'OUTBOUND'): the columns a batch reads and writes of
// them (see scanMoving). Each is found through its key, whatever the plan.
const lockMessagesText = `SELECT m.id, m.account_id, m.number_id, m.direction, m.kind, m.status, m.wa_message_id, m.error,
		m.sent_at, m.delivered_at, m.read_at, m.played_at, m.failed_at
	FROM messages m
	WHERE m.id IN (SELECT unnest($1::text[]) UNION ALL
		SELECT w.id FROM unnest($2::text[], $3::text[]) AS k(number_id, wa_message_id),
			LATERAL (SELECT id FROM messages WHERE number_id = k.number_id AND wa_message_id = k.wa_message_id AND direction = $4 OFFSET 0) AS w)
	ORDER BY m.id FOR UPDATE OF m`

// webhookEndpointsQuery is webhookEndpointsOf's statement, of a fixed
// text.
func (db *DB) webhookEndpointsQuery() string {
	return db.hotQuery("WebhookEndpointsOf", func() string {
		return db.Bun.NewSelect().Model((*WebhookEndpoint)(nil)).Column("id", "account_id", "types", "number_ids").
			Where("account_id = ANY(?::text[]) AND enabled", placeholder).OrderExpr("id").String()
	})
}

// texts is ss as an array parameter: empty, never NULL, when ss is nil,
// and each text as bun would write it.
func texts(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = sqlText(s)
	}
	return out
}
