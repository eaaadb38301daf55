package storage

import "github.com/uptrace/bun"

// Relaxed exposes the pool of records that do not wait for the WAL flush.
func (db *DB) Relaxed() *bun.DB { return db.relaxed }
