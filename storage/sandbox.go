package storage

import (
	"context"
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
// within a fraction of a second could lose it.
func (db *DB) RecordSandboxTransmission(ctx context.Context, t *SandboxTransmission) error {
	_, err := db.relaxed.NewRaw(`INSERT INTO sandbox_transmissions (number_id, message_id, recipient, kind, at, instance, duplicate)
		SELECT ?, ?, ?, ?, ?, ?, EXISTS (SELECT 1 FROM sandbox_transmissions WHERE message_id = ? AND NOT duplicate)`,
		t.NumberID, t.MessageID, t.Recipient, t.Kind, t.At, t.Instance, t.MessageID).Exec(ctx)
	return translate(err)
}

// SandboxTransmissions returns the record, oldest first.
func (db *DB) SandboxTransmissions(ctx context.Context) ([]*SandboxTransmission, error) {
	var ts []*SandboxTransmission
	err := db.Bun.NewSelect().Model(&ts).OrderExpr("id").Scan(ctx)
	return ts, translate(err)
}
