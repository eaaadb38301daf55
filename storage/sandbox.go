package storage

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// SandboxTransmission is one message the sandbox connector accepted: the
// sandbox's durable record, shared by every instance and restart, from
// which tests prove a message went out exactly once.
type SandboxTransmission struct {
	bun.BaseModel `bun:"table:sandbox_transmissions"`
	ID            int64     `bun:"id,pk,autoincrement"`
	NumberID      string    `bun:"number_id,notnull"`
	MessageID     string    `bun:"message_id,notnull"`
	Recipient     string    `bun:"recipient,notnull"`
	Kind          string    `bun:"kind,notnull"`
	At            time.Time `bun:"at,notnull"`
	// Instance is the apiws instance that sent it.
	Instance string `bun:"instance,notnull"`
	// Duplicate marks a send of a message id already transmitted: WhatsApp
	// takes a message id once, so it is not a second transmission.
	Duplicate bool `bun:"duplicate,notnull"`
}

// RecordSandboxTransmission appends to the sandbox's record, marking it a
// duplicate when the message id was transmitted before (by any instance).
//
// Sends go one after the other through a number, each waiting for its
// record, so on PostgreSQL the record does not wait for its WAL flush: once
// committed it survives a crash of apiws; only a crash of PostgreSQL itself
// within a fraction of a second could lose it. The records of concurrent
// sends (of other numbers) are written together, in one statement: the
// first caller writes what is waiting, and whoever came meanwhile hands
// the next group to one of its own.
func (db *DB) RecordSandboxTransmission(ctx context.Context, t *SandboxTransmission) error {
	return db.sandbox.record(ctx, db, t)
}

// sandboxRecorder groups the records of concurrent sends.
type sandboxRecorder struct {
	mu      sync.Mutex
	writing bool
	pending []*recordReq
}

// recordReq is one caller's record; done gets the outcome of the write,
// or errLead when the caller is to write the next group.
type recordReq struct {
	t    *SandboxTransmission
	done chan error
}

var errLead = errors.New("storage: write the next group of sandbox records")

func (r *sandboxRecorder) record(ctx context.Context, db *DB, t *SandboxTransmission) error {
	me := &recordReq{t: t, done: make(chan error, 1)}
	r.mu.Lock()
	r.pending = append(r.pending, me)
	lead := !r.writing
	r.writing = true
	r.mu.Unlock()
	if !lead {
		if err := <-me.done; !errors.Is(err, errLead) {
			return err
		}
	}
	// me is in the group: it was pending when it came to lead. A
	// dispatcher pass starts up to SendsInFlight sends at once: the leader
	// lets the others it started run up to here before taking the group,
	// or it would write its own record alone and theirs in the next group
	// (groups of 4.4 records in a run of sendMessage, about 7 with the
	// yield: BENCHMARKS.md, "The sandbox record's groups").
	runtime.Gosched()
	r.mu.Lock()
	group := r.pending
	r.pending = nil
	r.mu.Unlock()
	ts := make([]*SandboxTransmission, len(group))
	for i, q := range group {
		ts[i] = q.t
	}
	err := db.recordSandboxTransmissions(ctx, ts)
	for _, q := range group {
		if q != me {
			q.done <- err
		}
	}
	r.mu.Lock()
	if len(r.pending) > 0 {
		r.pending[0].done <- errLead
	} else {
		r.writing = false
	}
	r.mu.Unlock()
	return err
}

// recordSandboxTransmissions appends ts in one statement; a transmission
// of an id recorded before, or earlier in ts, is a duplicate.
func (db *DB) recordSandboxTransmissions(ctx context.Context, ts []*SandboxTransmission) error {
	again := make([]bool, len(ts))
	seen := make(map[string]bool, len(ts))
	for i, t := range ts {
		again[i] = seen[t.MessageID]
		seen[t.MessageID] = true
	}
	if db.fixedShape() {
		return translate(db.recordTransmissionsOnce(ctx, ts, again))
	}
	var q strings.Builder
	q.WriteString("INSERT INTO sandbox_transmissions (number_id, message_id, recipient, kind, at, instance, duplicate) VALUES ")
	args := make([]any, 0, 7*len(ts))
	for i, t := range ts {
		if i > 0 {
			q.WriteString(", ")
		}
		args = append(args, t.NumberID, t.MessageID, t.Recipient, t.Kind, t.At, t.Instance)
		if again[i] {
			q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
			args = append(args, true)
		} else {
			q.WriteString("(?, ?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM sandbox_transmissions WHERE message_id = ? AND NOT duplicate))")
			args = append(args, t.MessageID)
		}
	}
	_, err := db.relaxed.NewRaw(q.String(), args...).Exec(ctx)
	return translate(err)
}

// recordTransmissionsText writes a group of records on PostgreSQL with a
// text of its own, prepared and planned once per connection: it looks
// nothing up. A record is its message id's first unless the unique index
// of the firsts holds the id already (ON CONFLICT: recorded before, by any
// instance, or by a transaction it waits for) or the group has it earlier
// ($7, again); the rest are inserted as duplicates. The firsts are
// inserted in the order of their ids, so that two groups naming the same
// ids (other instances') wait on each other's in one order, never in a
// cycle; their record ids follow that order, not the group's.
const recordTransmissionsText = `WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::boolean[])
    WITH ORDINALITY AS v(number_id, message_id, recipient, kind, at, instance, again, ord)
), first AS (
  INSERT INTO sandbox_transmissions (number_id, message_id, recipient, kind, at, instance, duplicate)
  SELECT number_id, message_id, recipient, kind, at, instance, FALSE FROM v WHERE NOT again ORDER BY message_id
  ON CONFLICT (message_id) WHERE NOT duplicate DO NOTHING
  RETURNING message_id
)
INSERT INTO sandbox_transmissions (number_id, message_id, recipient, kind, at, instance, duplicate)
SELECT number_id, message_id, recipient, kind, at, instance, TRUE FROM v
WHERE again OR message_id NOT IN (SELECT message_id FROM first) ORDER BY ord`

// recordTransmissionsOnce runs recordTransmissionsText for ts, again
// marking those the group has earlier.
func (db *DB) recordTransmissionsOnce(ctx context.Context, ts []*SandboxTransmission, again []bool) error {
	n := len(ts)
	numbers, messages, recipients, kinds, instances := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	for i, t := range ts {
		numbers[i], messages[i], recipients[i], kinds[i], at[i], instances[i] = t.NumberID, t.MessageID, t.Recipient, t.Kind, t.At, t.Instance
	}
	return db.execIn(ctx, db.relaxed.DB, planOnce, recordTransmissionsText, numbers, messages, recipients, kinds, at, instances, again)
}

// SandboxTransmissions returns the record, oldest first (by the time of
// each transmission; a group's records are not written in their order).
func (db *DB) SandboxTransmissions(ctx context.Context) ([]*SandboxTransmission, error) {
	var ts []*SandboxTransmission
	err := db.Bun.NewSelect().Model(&ts).OrderExpr("at, id").Scan(ctx)
	return ts, translate(err)
}
