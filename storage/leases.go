package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Lease gives one instance the right to connect a number and send through
// it until ExpiresAt. Token grows with every change of owner: a send checks
// it, so a stale owner can never send after its lease passed on.
type Lease struct {
	bun.BaseModel `bun:"table:number_leases"`
	NumberID      string    `bun:"number_id,pk"`
	Owner         string    `bun:"owner,notnull"`
	Token         int64     `bun:"token,notnull"`
	ExpiresAt     time.Time `bun:"expires_at,notnull"`
}

// Instance is a running apiws process, seen through its heartbeat.
type Instance struct {
	bun.BaseModel `bun:"table:instances"`
	ID            string    `bun:"id,pk"`
	StartedAt     time.Time `bun:"started_at,notnull"`
	LastSeen      time.Time `bun:"last_seen,notnull"`
}

// Heartbeat records that instance id is alive at now, and forgets
// instances silent since before stale.
func (db *DB) Heartbeat(ctx context.Context, id string, now, stale time.Time) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&Instance{ID: id, StartedAt: now, LastSeen: now}).
			On("CONFLICT (id) DO UPDATE").Set("last_seen = EXCLUDED.last_seen").Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.NewDelete().Model((*Instance)(nil)).Where("last_seen < ?", stale).Exec(ctx)
		return err
	})
}

// LiveInstances counts instances seen since after.
func (db *DB) LiveInstances(ctx context.Context, after time.Time) (int, error) {
	n, err := db.Bun.NewSelect().Model((*Instance)(nil)).Where("last_seen >= ?", after).Count(ctx)
	return int(n), translate(err)
}

// Leases returns every lease.
func (db *DB) Leases(ctx context.Context) ([]*Lease, error) {
	var ls []*Lease
	err := db.Bun.NewSelect().Model(&ls).Scan(ctx)
	return ls, translate(err)
}

// ClaimLease takes the number's lease for owner until expires when it is
// free or expired at now, and returns the new fencing token; ok is false
// when another owner holds a live lease.
func (db *DB) ClaimLease(ctx context.Context, numberID, owner string, now, expires time.Time) (token int64, ok bool, err error) {
	var tokens []int64
	err = db.Bun.NewRaw(`INSERT INTO number_leases (number_id, owner, token, expires_at) VALUES (?, ?, 1, ?)
		ON CONFLICT (number_id) DO UPDATE SET owner = EXCLUDED.owner, token = number_leases.token + 1, expires_at = EXCLUDED.expires_at
		WHERE number_leases.expires_at < ? OR number_leases.owner = EXCLUDED.owner
		RETURNING token`, numberID, owner, expires, now).Scan(ctx, &tokens)
	if err != nil {
		return 0, false, translate(err)
	}
	if len(tokens) == 0 {
		return 0, false, nil
	}
	return tokens[0], true, nil
}

// RenewLeases extends owner's leases of the numbers to expires, as long as
// they still hold the token; it returns the numbers renewed.
func (db *DB) RenewLeases(ctx context.Context, owner string, tokens map[string]int64, expires time.Time) (map[string]bool, error) {
	renewed := map[string]bool{}
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		for id, token := range tokens {
			res, err := tx.NewUpdate().Model((*Lease)(nil)).Set("expires_at = ?", expires).
				Where("number_id = ? AND owner = ? AND token = ?", id, owner, token).Exec(ctx)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				renewed[id] = true
			}
		}
		return nil
	})
	return renewed, err
}

// ReleaseLease gives a lease up at once, so another instance can take it.
func (db *DB) ReleaseLease(ctx context.Context, numberID, owner string, token int64) error {
	_, err := db.Bun.NewDelete().Model((*Lease)(nil)).
		Where("number_id = ? AND owner = ? AND token = ?", numberID, owner, token).Exec(ctx)
	return translate(err)
}

// ReleaseAll gives up every lease of owner and its instance row: a graceful
// shutdown hands its numbers over at once.
func (db *DB) ReleaseAll(ctx context.Context, owner string) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*Lease)(nil)).Where("owner = ?", owner).Exec(ctx); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*Instance)(nil)).Where("id = ?", owner).Exec(ctx)
		return err
	})
}

// LeaseHeld reports whether owner holds the number's lease with token,
// unexpired at now: the fencing check made before every send.
func (db *DB) LeaseHeld(ctx context.Context, numberID, owner string, token int64, now time.Time) (bool, error) {
	var n int
	q := db.hotQuery("LeaseHeld", func() string {
		return db.Bun.NewSelect().Model((*Lease)(nil)).ColumnExpr("count(*)").
			Where("number_id = ? AND owner = ? AND token = ? AND expires_at > ?", placeholder, placeholder, placeholder, placeholder).String()
	})
	err := db.queryHot(ctx, q, &n, numberID, owner, token, now)
	return n == 1, translate(err)
}
