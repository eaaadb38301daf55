package storage

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// queryCounter counts the statements a DB runs; exported as a metric, it
// shows whether a request's statement count grows with its size.
type queryCounter struct {
	n     atomic.Uint64 // statements
	trips atomic.Uint64 // round trips: a statement alone, or a round of many (pipeline)
}

// add counts statements sent in one round trip.
func (c *queryCounter) add(statements int) {
	c.n.Add(uint64(statements))
	c.trips.Add(1)
}

var _ bun.QueryHook = (*queryCounter)(nil)

func (c *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (c *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) { c.add(1) }

// Statements returns how many statements the DB has run.
func (db *DB) Statements() uint64 { return db.queries.n.Load() }

// RoundTrips returns how many times the DB has sent statements and waited
// for their results: once a statement, or once a round of a pipelined
// transaction.
func (db *DB) RoundTrips() uint64 { return db.queries.trips.Load() }
