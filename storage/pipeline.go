package storage

import (
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/apiws/apiws"
)

// A batch's transaction on PostgreSQL, one statement after the other, cost
// a round trip each: up to fifteen (begin, insert the messages, their
// outbox items, lock the messages that move, update them, delete outbox
// items, keep and drop transit content, read the webhook endpoints, bump
// the counters, insert the events, commit), each a wake-up of apiws and of
// the PostgreSQL backend. Under load the account's journal, which commits
// one batch after the other, spent most of a transaction waiting on them.
//
// writePipelined sends them in two or three rounds instead: every
// statement of a round goes in one message (pgx's batch: the extended
// protocol's pipeline), and its results come back together. What a round
// needs from the one before it is all it waits for:
//
//  1. begin; insert the new messages (which of them were inserted: an
//     idempotency key may be taken); lock the messages that move; read the
//     webhook endpoints of the batch's accounts, when every write names
//     its account.
//  2. everything those decide: outbox items, statuses, outbox and transit
//     rows, and the counters bumped last (which events, so how many
//     cursors, is known now). When the events' accounts have no webhook
//     endpoint and no event has content to keep, the events go with the
//     bump, numbered in PostgreSQL (bumpAndLogText), and the transaction
//     commits: two rounds.
//  3. else, what the cursors decide: the events, their transit content
//     and webhook deliveries (the endpoints read here when round 1 could
//     not); commit.
//
// The counters stay locked from their bump to the commit: within one
// round, or one round trip, as before (appendEvents).
//
// Every statement with parameters is prepared once per connection (see
// pipelined) and planned once (see planSettings). The preparation, before a
// connection's first transaction, is not counted in apiws_db_round_trips.

// planSettings makes the transaction's statements run on the plan each got
// when it first ran on the connection (a generic plan, made without its
// values): planning, done again each time, was about 40% of
// PostgreSQL's CPU for a batch (perf, BenchmarkBatchWrites). A generic
// plan made while a table is small would scan it whole, and keep doing so
// as it grows; but every statement here finds its rows through their keys
// (lockMessagesText, dropTransitText, queueMessagesText are written so), so with sequential
// scans, hash and merge joins ruled out each plan reaches each row through
// an index, as a plan made with the values would. The settings end with
// the transaction. (The foreign keys' checks have plans of their own,
// cached once per connection: by key, whatever the settings.) They are the
// hot statements' (lookupSettings).
var planSettings = func() string {
	var sets []string
	for _, name := range slices.Sorted(maps.Keys(lookupSettings)) {
		sets = append(sets, "set_config('"+name+"', '"+lookupSettings[name]+"', true)")
	}
	return "SELECT " + strings.Join(sets, ", ")
}()

// writePipelined is Write on PostgreSQL.
func (db *DB) writePipelined(ctx context.Context, b *Batch) ([]*apiws.LogEvent, error) {
	conn, err := db.Bun.DB.Conn(ctx)
	if err != nil {
		return nil, translate(err)
	}
	defer conn.Close()
	// Once begun, the transaction runs to its end: a commit cut off by a
	// cancelled context may still have happened, which Write would report
	// as nothing written.
	ctx = context.WithoutCancel(ctx)
	var evs []*apiws.LogEvent
	var deliveries bool
	err = conn.Raw(func(dc any) error {
		p := &pipeline{db: db, conn: dc.(*stdlib.Conn).Conn()}
		var err error
		if err = p.prepare(ctx); err == nil {
			evs, deliveries, err = p.write(ctx, b)
		}
		if err != nil {
			return p.abort(err)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err)
	}
	if deliveries {
		db.notifyDeliveriesQueued()
	}
	return evs, nil
}

// pipelined returns the names of the statements with parameters a
// pipelined transaction runs, by their text: each is prepared on a
// connection under a name of the pipeline's own, so that no other
// statement of apiws with the same text runs on its plan, nor the pipeline
// on another's (made under other settings). Empty when the connections
// take no prepared statements (default_query_exec_mode=simple_protocol,
// for a pooler): the statements then go with their values in their text.
func (db *DB) pipelined() map[string]string {
	db.pipelineOnce.Do(func() {
		db.pipelineNames = map[string]string{}
		if db.simpleProtocol {
			return
		}
		for _, text := range []string{queueMessagesText, lockMessagesText, insertOutbox.query, updateStatusesText,
			insertCaptured.query, deleteOutboxText, insertTransit.query, dropTransitText, db.webhookEndpointsQuery(),
			bumpCounters, bumpAndLogText, insertEvents.query, insertInboundTransit.query} {
			sum := sha256.Sum256([]byte(text))
			db.pipelineNames[text] = "apiws_pipeline_" + hex.EncodeToString(sum[:12])
		}
	})
	return db.pipelineNames
}

// pipeline is a transaction on one PostgreSQL connection whose statements
// are sent in rounds.
type pipeline struct {
	db    *DB
	conn  *pgx.Conn
	round pgx.Batch
}

// prepare prepares the pipeline's statements on the connection, before its
// first transaction (pgx remembers them: after that, nothing is sent).
func (p *pipeline) prepare(ctx context.Context) error {
	for text, name := range p.db.pipelined() {
		if _, err := p.conn.Prepare(ctx, name, text); err != nil {
			return err
		}
	}
	return nil
}

// statement returns what to queue for query: the name it is prepared
// under, or query itself.
func (p *pipeline) statement(query string) string {
	if name, ok := p.db.pipelined()[query]; ok {
		return name
	}
	return query
}

// exec adds a statement with the parameters args to the round.
func (p *pipeline) exec(query string, args ...any) {
	p.round.Queue(p.statement(query), args...)
}

// query adds a statement with the parameters args to the round; read gets
// its rows when the round is sent.
func (p *pipeline) query(query string, read func(pgx.Rows) error, args ...any) {
	p.round.Queue(p.statement(query), args...).Query(func(rows pgx.Rows) error {
		if err := read(rows); err != nil {
			return err
		}
		return rows.Err()
	})
}

// send runs the round's statements in one round trip and hands the rows
// to their readers. It returns the first failure; the statements after it
// did not run.
func (p *pipeline) send(ctx context.Context) error {
	if p.round.Len() == 0 {
		return nil
	}
	p.db.queries.add(p.round.Len())
	err := p.conn.SendBatch(ctx, &p.round).Close()
	p.round = pgx.Batch{}
	return err
}

// abort rolls the transaction back after err. A connection left in a
// transaction, or whose prepared statements no longer fit their tables
// (PostgreSQL's "cached plan must not change result type", after a
// migration), is given up.
func (p *pipeline) abort(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "0A000" {
		return errors.Join(err, driver.ErrBadConn)
	}
	if p.conn.IsClosed() {
		return errors.Join(err, driver.ErrBadConn)
	}
	if p.conn.PgConn().TxStatus() == 'I' {
		return err
	}
	// Not the write's context: a cancelled one would leave the transaction
	// open.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rbErr := p.conn.Exec(ctx, "ROLLBACK"); rbErr != nil || p.conn.PgConn().TxStatus() != 'I' {
		return errors.Join(err, driver.ErrBadConn)
	}
	return err
}

// write runs the batch's transaction in two or three rounds and returns its
// events, and whether it queued webhook deliveries.
func (p *pipeline) write(ctx context.Context, b *Batch) ([]*apiws.LogEvent, bool, error) {
	b.reset()

	// Round 1: which new messages are inserted, which messages move.
	p.exec("BEGIN")
	p.exec(planSettings)
	inserted, refused := map[string]bool{}, map[string]bool{}
	if len(b.Queue) > 0 {
		p.query(queueMessagesText, func(rows pgx.Rows) error {
			for rows.Next() {
				var id string
				var no bool
				if err := rows.Scan(&id, &no); err != nil {
					return err
				}
				if no {
					refused[id] = true
				} else {
					inserted[id] = true
				}
			}
			return nil
		}, append(insertMessages.args(b.messages(nil)), b.guards())...)
	}
	var ms []*apiws.Message
	if ids, numbers, waIDs := b.moving(); len(ids)+len(waIDs) > 0 {
		p.query(lockMessagesText, scanMoving(&ms), texts(ids), texts(numbers), texts(waIDs), string(apiws.Outbound))
	}
	// The webhook endpoints of the batch's accounts, when they are known
	// ahead: with none, and no content to keep, round 2 logs the events
	// and commits.
	endpoints := map[string][]*apiws.WebhookEndpoint{}
	batchAccounts, known := b.accounts()
	if known {
		p.query(p.db.webhookEndpointsQuery(), scanSelections(endpoints), texts(batchAccounts))
	}
	if err := p.send(ctx); err != nil {
		return nil, false, err
	}

	// Round 2: what the messages decide, then the cursors.
	items, evs := b.queued(inserted, refused)
	moved, changed := b.advance(ms)
	evs = append(evs, moved...)
	if len(items) > 0 {
		p.exec(insertOutbox.query, insertOutbox.args(items)...)
	}
	if len(changed) > 0 {
		p.exec(updateStatusesText, statusArgs(changed)...)
	}
	var left []string
	var captured []*capturedContent
	var retain []*Transit
	for _, s := range b.Sent {
		for _, it := range s.Items {
			left = append(left, it.MessageID)
		}
		captured = append(captured, capturedOf(s.Items, s.CaptureID, s.CaptureUntil)...)
		retain = append(retain, s.Retain...)
	}
	if len(captured) > 0 {
		p.exec(insertCaptured.query, insertCaptured.args(captured)...)
	}
	if len(left) > 0 {
		p.exec(deleteOutboxText, texts(left))
	}
	if len(retain) > 0 {
		p.exec(insertTransit.query, insertTransit.args(retain)...)
	}
	if numbers, waIDs := delivered(b.Receipts); len(waIDs) > 0 {
		p.exec(dropTransitText, texts(numbers), texts(waIDs), string(apiws.KindPoll))
	}
	accounts, byAccount := eventsByAccount(evs)
	last := map[string]int64{}
	readLast := func(rows pgx.Rows) error { return readCounters(rows, last) }
	// An event of an account the writes did not name (a receipt naming
	// another account than its messages') had no endpoints read: round 3
	// reads them.
	known = known && !slices.ContainsFunc(accounts, func(acc string) bool {
		_, named := slices.BinarySearch(batchAccounts, acc)
		return !named
	})
	hooked := slices.ContainsFunc(accounts, func(acc string) bool { return len(endpoints[acc]) > 0 })
	if len(evs) == 0 || (known && !hooked && !withContent(evs)) {
		// Two rounds: the events go with their cursors' bump.
		if len(evs) > 0 {
			p.query(bumpAndLogText, readLast, bumpAndLogArgs(evs, accounts, byAccount)...)
		}
		p.exec("COMMIT")
		if err := p.send(ctx); err != nil {
			return nil, false, err
		}
		numberAll(accounts, byAccount, last)
		return evs, false, nil
	}
	if len(evs) > 0 {
		if !known {
			p.query(p.db.webhookEndpointsQuery(), scanSelections(endpoints), texts(accounts))
		}
		p.query(bumpCounters, readLast, bumpArgs(accounts, byAccount)...)
	}
	if err := p.send(ctx); err != nil {
		return nil, false, err
	}

	// Round 3: the events, under the cursors handed out; commit.
	var ds []*apiws.WebhookDelivery
	if len(evs) > 0 {
		numberAll(accounts, byAccount, last)
		p.exec(insertEvents.query, insertEvents.args(evs)...)
		held, err := p.db.transit.rows(evs)
		if err != nil {
			return nil, false, err
		}
		if len(held) > 0 {
			p.exec(insertInboundTransit.query, insertInboundTransit.args(held)...)
		}
		ds = deliveriesOf(endpoints, evs, time.Now().UTC())
		for rest := ds; len(rest) > 0; {
			rows := deliveryRows(rest[:min(len(rest), insertBatch)])
			rest = rest[len(rows):]
			// Rare (an account with webhook endpoints) and of any shape:
			// bun writes it, values and all.
			q, err := p.db.Bun.NewInsert().Model(&rows).AppendQuery(p.db.Bun.QueryGen(), nil)
			if err != nil {
				return nil, false, err
			}
			p.exec(string(q))
		}
	}
	p.exec("COMMIT")
	if err := p.send(ctx); err != nil {
		return nil, false, err
	}
	return evs, len(ds) > 0, nil
}

// withContent reports whether an event of evs carries content to keep in
// transit (which is sealed under its cursor: a third round).
func withContent(evs []*apiws.LogEvent) bool {
	return slices.ContainsFunc(evs, func(ev *apiws.LogEvent) bool { return ev.Content != nil })
}

// scanMoving reads lockMessagesText's rows into ms.
func scanMoving(ms *[]*apiws.Message) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			m := new(apiws.Message)
			var direction, kind, status string
			var merr *string
			if err := rows.Scan(&m.ID, &m.AccountID, &m.NumberID, &direction, &kind, &status, &m.WAMessageID, &merr,
				&m.SentAt, &m.DeliveredAt, &m.ReadAt, &m.PlayedAt, &m.FailedAt); err != nil {
				return err
			}
			m.Direction, m.Kind, m.Status = apiws.Direction(direction), apiws.MessageKind(kind), apiws.MessageStatus(status)
			if merr != nil {
				m.Error = new(apiws.MessageError)
				if err := json.Unmarshal([]byte(*merr), m.Error); err != nil {
					return err
				}
			}
			*ms = append(*ms, m)
		}
		return nil
	}
}

// scanSelections reads the rows of webhookEndpointsQuery (id, account,
// types and numbers, the last two JSON as bun writes them) into
// endpoints, by account.
func scanSelections(endpoints map[string][]*apiws.WebhookEndpoint) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			e := new(apiws.WebhookEndpoint)
			var types, numbers string
			if err := rows.Scan(&e.ID, &e.AccountID, &types, &numbers); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(types), &e.Types); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(numbers), &e.NumberIDs); err != nil {
				return err
			}
			endpoints[e.AccountID] = append(endpoints[e.AccountID], e)
		}
		return nil
	}
}
