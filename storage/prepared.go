package storage

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/uptrace/bun"
)

// Hot statements: the few that run for every message (the send's check,
// the dispatcher's pass) are sent with their values as parameters instead
// of written into their text, as bun writes them. On PostgreSQL pgx then
// prepares each once per connection (QueryExecModeCacheStatement) and
// PostgreSQL neither parses nor plans it again; every other statement
// changes with its values, so the connection's default stays
// QueryExecModeExec (see Open). On SQLite bun writes the values in, as for
// any other statement.
//
// Each finds a few rows by their keys. A plan made once, without the
// values, is made with the table's statistics of that moment: made while
// messages was small, the read of a pass's messages scanned the whole
// table, and kept doing so as it grew, until the next ANALYZE (measured
// on a new database: 5 million rows read in 15 s of sends, in 340–440
// scans, about 13% of the machine's CPU samples). Planning each time with
// the values (planEach) cost more than those scans did in 10 s of sends
// (PostgreSQL's CPU per message 0.35 ms against 0.26–0.31), and more than
// planning once with them gone. So the hot statements run on connections of
// their own (DB.lookups) whose plans, like the pipelined transaction's
// (planSettings), rule out sequential scans, hash and merge joins: each
// reaches its rows through an index, whatever the table's size when it
// was planned.
var lookupSettings = map[string]string{
	"plan_cache_mode":  "force_generic_plan",
	"enable_seqscan":   "off",
	"enable_hashjoin":  "off",
	"enable_mergejoin": "off",
}

// hotQuery returns the text of the hot statement name, built once with
// build (with ? where its values go: bun writes placeholder so), its
// parameters numbered on PostgreSQL.
func (db *DB) hotQuery(name string, build func() string) string {
	if q, ok := db.hot.Load(name); ok {
		return q.(string)
	}
	q := build()
	if db.Dialect == Postgres {
		q = numbered(q)
	}
	stored, _ := db.hot.LoadOrStore(name, q)
	return stored.(string)
}

// queryHot runs a hot statement (from hotQuery) with its values args, and
// scans its rows into dest as bun would.
func (db *DB) queryHot(ctx context.Context, query string, dest any, args ...any) error {
	var rows *sql.Rows
	var err error
	if db.Dialect == Postgres {
		rows, err = db.rowsIn(ctx, db.lookups, planOnce, query, args...)
	} else {
		rows, err = db.Bun.QueryContext(ctx, query, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	return db.Bun.ScanRows(ctx, rows, dest)
}

// numbered turns the ? of query into PostgreSQL's $1, $2, …; the hot
// statements have no ? of their own.
func numbered(query string) string {
	var b strings.Builder
	n := 0
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			b.WriteString(query)
			return b.String()
		}
		n++
		b.WriteString(query[:i])
		b.WriteString("$" + strconv.Itoa(n))
		query = query[i+1:]
	}
}

// placeholder is the ? bun writes into a hot statement's text for a value.
var placeholder = bun.Safe("?")
