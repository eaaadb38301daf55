// Package storage keeps apiws's data in PostgreSQL or SQLite through bun. It
// is the only package that writes SQL.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/apiws/apiws"
)

// Dialect names the database behind a DB.
type Dialect string

// Supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is apiws's database: PostgreSQL or SQLite behind one bun.DB.
type DB struct {
	Bun     *bun.DB
	Dialect Dialect
	queries *queryCounter
	// relaxed commits without waiting for the WAL flush, for records whose
	// loss in a crash of PostgreSQL itself (not of apiws) is acceptable:
	// the sandbox's. On SQLite it is Bun.
	relaxed *bun.DB
	// lookups runs the hot statements on PostgreSQL, on connections whose
	// plans reach rows through indexes (lookupSettings); nil on SQLite.
	lookups *sql.DB
	// sandbox groups the sandbox's transmission records.
	sandbox sandboxRecorder
	// hot holds the text of the hot statements by name (see hotQuery).
	hot sync.Map
	// pipelineNames are the names of the statements of a pipelined
	// transaction, by text (see pipelined).
	pipelineOnce  sync.Once
	pipelineNames map[string]string
	// simpleProtocol: the PostgreSQL connections take no prepared
	// statements (default_query_exec_mode=simple_protocol, for a pooler).
	simpleProtocol bool
	// inlineBatch makes a batch's writes bun's on PostgreSQL too, for the
	// tests that compare them with the fixed-shape ones (unnest.go).
	inlineBatch bool
	// transit keeps the content of logged events (see KeepContent).
	transit contentKeeper
	// deliveriesQueued is called after a commit that queued webhook
	// deliveries (OnDeliveriesQueued).
	deliveriesQueued deliveriesHook
}

// contentKeeper seals the content of logged events into the transit table.
type contentKeeper struct {
	seal, sealMedia func(*apiws.LogEvent) []byte
	ttl             time.Duration
}

// KeepContent makes the log keep the content of the events it writes
// (LogEvent.Content) in the transit table, sealed by seal once the event
// has its cursor, for ttl; and, sealed by sealMedia, the media reference
// of an inbound file (MediaInfo.Ref), which stays for ttl even once the
// content is released (the event's MediaUntil says until when). Without
// it, logging an event with content is an error: content is never dropped
// unnoticed. Call it before any write.
func (db *DB) KeepContent(seal, sealMedia func(*apiws.LogEvent) []byte, ttl time.Duration) {
	db.transit = contentKeeper{seal: seal, sealMedia: sealMedia, ttl: ttl}
}

// IdleInTransactionTimeout is how long PostgreSQL lets a session of apiws
// sit idle inside a transaction before it ends the session, releasing its
// locks (unless the URL sets idle_in_transaction_session_timeout).
const IdleInTransactionTimeout = "10s"

// Open connects to url: a postgres:// or postgresql:// URL, or else a SQLite
// file path (its folder is created). SQLite runs in WAL mode with a busy
// timeout, foreign keys and secure_delete on, so a CLI can work while a
// server runs on the same file and deleted data is overwritten.
func Open(ctx context.Context, url string) (*DB, error) {
	var db *DB
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, fmt.Errorf("parse the PostgreSQL URL: %w", err)
		}
		if !strings.Contains(url, "default_query_exec_mode") {
			// bun writes its values into the SQL text, so almost every
			// statement is new: preparing and caching each would cost a
			// round trip and memory for nothing.
			cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		}
		if _, set := cfg.RuntimeParams["jit"]; !set {
			// apiws's statements read and write a few rows each; JIT
			// compiling one costs milliseconds, and PostgreSQL chooses it
			// when its estimates are far off, as they are while a fast
			// growing table's statistics lag behind (a page of 50 messages'
			// events: 0.2 ms to run, 3 ms to compile).
			cfg.RuntimeParams["jit"] = "off"
		}
		if _, set := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !set {
			// No transaction of apiws waits between its statements; one
			// that does belongs to an instance that hangs or was paused,
			// and its row locks (an account's event counter, a number's
			// outbox) would hold every other instance back.
			cfg.RuntimeParams["idle_in_transaction_session_timeout"] = IdleInTransactionTimeout
		}
		simple := cfg.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol
		sqldb := openPool(cfg, 20, nil)
		db = &DB{Bun: bun.NewDB(sqldb, pgdialect.New()), Dialect: Postgres, simpleProtocol: simple}
		db.relaxed = bun.NewDB(openPool(cfg, 4, map[string]string{"synchronous_commit": "off"}), pgdialect.New())
		if simple {
			// Through a pooler statements go with their values in their
			// text, planned each time: the hot ones need no settings of
			// their own (which a pooler may refuse at connection).
			db.lookups = sqldb
		} else {
			db.lookups = openPool(cfg, 6, lookupSettings)
		}
	} else {
		path := strings.TrimPrefix(url, "sqlite://")
		if err := createPrivate(path); err != nil {
			return nil, err
		}
		dsn := "file:" + path + "?_txlock=immediate" +
			"&_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=secure_delete(on)&_pragma=synchronous(NORMAL)"
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		// One writer at a time is SQLite's rule; a few readers run beside it.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		db = &DB{Bun: bun.NewDB(sqldb, sqlitedialect.New()), Dialect: SQLite}
	}
	db.queries = &queryCounter{}
	db.Bun = db.Bun.WithQueryHook(db.queries)
	if db.relaxed == nil {
		db.relaxed = db.Bun
	} else {
		db.relaxed = db.relaxed.WithQueryHook(db.queries)
	}
	if err := db.Ping(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// openPool opens a pool of up to n connections to cfg's database, with
// the session settings params over cfg's, each closed after 5 idle minutes.
func openPool(cfg *pgx.ConnConfig, n int, params map[string]string) *sql.DB {
	cfg = cfg.Copy()
	maps.Copy(cfg.RuntimeParams, params)
	pool := stdlib.OpenDB(*cfg)
	pool.SetMaxOpenConns(n)
	pool.SetMaxIdleConns(n)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	return pool
}

// createPrivate creates the SQLite file at path, if it is not there yet,
// readable by its owner only (0600), in a folder made 0700 if needed:
// whatsmeow's device keys live in it. SQLite gives the WAL and shared-memory
// files it makes beside it the database file's mode.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create database folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the database file: %w", err)
	}
	return f.Close()
}

// SQL returns the underlying database handle, for libraries that bring their
// own tables (whatsmeow's device store).
func (db *DB) SQL() *sql.DB { return db.Bun.DB }

// Close closes the connection pools.
func (db *DB) Close() error {
	err := db.Bun.Close()
	if db.relaxed.DB != db.Bun.DB {
		err = errors.Join(err, db.relaxed.Close())
	}
	if db.lookups != nil && db.lookups != db.Bun.DB {
		err = errors.Join(err, db.lookups.Close())
	}
	return err
}

// Ping checks the database answers; for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := db.Bun.PingContext(ctx); err != nil {
		return apiws.Errorf(apiws.EUNAVAILABLE, "database unavailable")
	}
	return nil
}

// Checkpoint folds SQLite's write-ahead log into the main file and truncates
// it, so deleted (and securely overwritten) rows leave no copy behind in the
// WAL. It does nothing on PostgreSQL.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.Dialect != SQLite {
		return nil
	}
	_, err := db.Bun.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

// RunInTx runs fn in a transaction, committed when fn returns nil.
func (db *DB) RunInTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	txs := &txState{db: db}
	err := translate(db.Bun.RunInTx(context.WithValue(ctx, txStateKey{}, txs), nil, fn))
	if err == nil {
		for _, f := range txs.afterCommit {
			f()
		}
	}
	return err
}

// txState is what a transaction of RunInTx carries in its context: the
// functions to call once it has committed.
type txState struct {
	db          *DB
	afterCommit []func()
}

type txStateKey struct{}

// afterCommit calls fn once the transaction of RunInTx that ctx belongs to
// has committed (never if it rolls back); outside one, it does nothing.
func afterCommit(ctx context.Context, fn func(db *DB)) {
	if txs, ok := ctx.Value(txStateKey{}).(*txState); ok {
		txs.afterCommit = append(txs.afterCommit, func() { fn(txs.db) })
	}
}

// isUniqueViolation reports whether err is a unique constraint violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		return sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// translate turns connection failures into EUNAVAILABLE so callers can tell
// "the database is down" from a bug; other errors pass through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var ae *apiws.Error
	if errors.As(err, &ae) {
		return err
	}
	var netErr net.Error
	var pgConnErr *pgconn.ConnectError
	switch {
	case errors.As(err, &netErr), errors.As(err, &pgConnErr), errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("%w: %v", apiws.Errorf(apiws.EUNAVAILABLE, "database unavailable"), err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "08") || strings.Contains(err.Error(), "connection refused") {
		return fmt.Errorf("%w: %v", apiws.Errorf(apiws.EUNAVAILABLE, "database unavailable"), err)
	}
	return err
}

// selectOne selects the one row where matches into a new T, or answers
// ENOTFOUND naming what.
func selectOne[T any](ctx context.Context, db bun.IDB, what, where string, args ...any) (*T, error) {
	v := new(T)
	if err := db.NewSelect().Model(v).Where(where, args...).Scan(ctx); err != nil {
		return nil, notFound(err, what)
	}
	return v, nil
}

// selectOwned selects an account's object by its id: another account's is
// not found.
func selectOwned[T any](ctx context.Context, db bun.IDB, what, accountID, id string) (*T, error) {
	return selectOne[T](ctx, db, what, "id = ? AND account_id = ?", id, accountID)
}

// notFound maps sql.ErrNoRows to an ENOTFOUND error naming what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apiws.Errorf(apiws.ENOTFOUND, "%s not found", what)
	}
	return translate(err)
}
