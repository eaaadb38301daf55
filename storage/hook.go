package storage

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// queryCounter counts the statements a DB runs; exported as a metric, it
// shows whether a request's statement count grows with its size.
type queryCounter struct{ n atomic.Uint64 }

var _ bun.QueryHook = (*queryCounter)(nil)

func (c *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) { c.n.Add(1) }

// Statements returns how many statements the DB has run.
func (db *DB) Statements() uint64 { return db.queries.n.Load() }
