package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"time"

	"github.com/uptrace/bun"
)

// jobLock is SQLite's stand-in for an advisory lock: a row with a lease.
type jobLock struct {
	bun.BaseModel `bun:"table:job_locks"`
	Name          string    `bun:"name,pk"`
	Holder        string    `bun:"holder,notnull"`
	Until         time.Time `bun:"until,notnull"`
}

// TryLock takes the lock called name for a job that must run in one place
// at a time (across instances and CLI runs), without waiting. ok is false
// when someone else holds it. The lock is released by unlock; on
// PostgreSQL it is a session advisory lock, which also ends with its
// connection; on SQLite it is a row with a lease, which a holder that died
// leaves to expire.
func (db *DB) TryLock(ctx context.Context, name string, lease time.Duration) (unlock func(), ok bool, err error) {
	if db.Dialect == Postgres {
		return db.tryAdvisoryLock(ctx, name)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	holder := hex.EncodeToString(b[:])
	now := time.Now().UTC()
	res, err := db.Bun.NewRaw(`INSERT INTO job_locks (name, holder, until) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE job_locks.until < ?`, name, holder, now.Add(lease), now).Exec(ctx)
	if err != nil {
		return nil, false, translate(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, false, nil
	}
	return func() {
		_, _ = db.Bun.NewDelete().Model((*jobLock)(nil)).
			Where("name = ? AND holder = ?", name, holder).Exec(context.WithoutCancel(ctx))
	}, true, nil
}

func (db *DB) tryAdvisoryLock(ctx context.Context, name string) (func(), bool, error) {
	h := fnv.New64a()
	h.Write([]byte("apiws:" + name))
	key := int64(h.Sum64())
	// The lock belongs to the session, so it is taken and released on one
	// connection kept out of the pool meanwhile.
	conn, err := db.Bun.Conn(ctx)
	if err != nil {
		return nil, false, translate(err)
	}
	var ok bool
	if err := conn.NewRaw("SELECT pg_try_advisory_lock(?)", key).Scan(ctx, &ok); err != nil || !ok {
		_ = conn.Close()
		return nil, false, translate(err)
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		_ = conn.Close()
	}, true, nil
}
