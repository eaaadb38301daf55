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
}

// RecordSandboxTransmission appends to the sandbox's record.
func (db *DB) RecordSandboxTransmission(ctx context.Context, t *SandboxTransmission) error {
	_, err := db.Bun.NewInsert().Model(t).Exec(ctx)
	return translate(err)
}

// SandboxTransmissions returns the record, oldest first.
func (db *DB) SandboxTransmissions(ctx context.Context) ([]*SandboxTransmission, error) {
	var ts []*SandboxTransmission
	err := db.Bun.NewSelect().Model(&ts).OrderExpr("id").Scan(ctx)
	return ts, translate(err)
}
