package storage

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// Relaxed exposes the pool of records that do not wait for the WAL flush.
func (db *DB) Relaxed() *bun.DB { return db.relaxed }

// Lookups exposes the connections of the hot statements (PostgreSQL).
func (db *DB) Lookups() *sql.DB { return db.lookups }

// InlineBatch makes the batch's writes bun's on PostgreSQL too, as they
// are on SQLite, so a test can compare them with the fixed-shape ones.
func (db *DB) InlineBatch() { db.inlineBatch = true }

// PlanSettings are the settings of a pipelined transaction's plans.
var PlanSettings = planSettings

// RecordSandboxGroup writes ts as one group of the sandbox's record, as
// the recorder does with the records that wait together.
func (db *DB) RecordSandboxGroup(ctx context.Context, ts []*SandboxTransmission) error {
	return db.recordSandboxTransmissions(ctx, ts)
}

// EnteredAt is a message's age as the statements compare it.
const EnteredAt = enteredAt

// AppendEventsIn logs evs in tx as every writer of events does: their
// account's counter bumped first, then the events.
func (db *DB) AppendEventsIn(ctx context.Context, tx bun.Tx, evs []*apiws.LogEvent) error {
	return db.appendEvents(ctx, tx, evs)
}
