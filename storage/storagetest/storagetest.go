// Package storagetest opens real, migrated databases for tests: a SQLite
// file in a temporary folder, and a database of its own on the PostgreSQL
// server named by APIWS_TEST_POSTGRES_URL.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// PostgresURL is the server tests use: APIWS_TEST_POSTGRES_URL, or the
// local one.
func PostgresURL() string {
	if u := os.Getenv("APIWS_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Dialects are the databases every storage test runs on.
var Dialects = []storage.Dialect{storage.SQLite, storage.Postgres}

// URL returns a database URL of a new, empty database of the dialect that is
// removed when the test ends: a SQLite file, or a PostgreSQL database of its
// own. (A schema of its own is not enough: whatsmeow's device store looks
// its tables up database-wide.)
func URL(tb testing.TB, d storage.Dialect) string {
	tb.Helper()
	if d == storage.SQLite {
		return filepath.Join(tb.TempDir(), "apiws.db")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "apiws_t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", PostgresURL())
	if err != nil {
		tb.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("postgres at %s is needed for this test (start it, or set APIWS_TEST_POSTGRES_URL): %v", PostgresURL(), err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", PostgresURL())
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		tb.Fatalf("parse APIWS_TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open returns a migrated database of the dialect, closed when the test ends.
func Open(tb testing.TB, d storage.Dialect) *storage.DB {
	tb.Helper()
	return Instances(tb, d, 1)[0]
}

// Instances returns n handles of a new database of the dialect, migrated
// once, as n instances of apiws would open it; closed when the test ends.
func Instances(tb testing.TB, d storage.Dialect, n int) []*storage.DB {
	tb.Helper()
	ctx := context.Background()
	u := URL(tb, d)
	dbs := make([]*storage.DB, n)
	for i := range dbs {
		db, err := storage.Open(ctx, u)
		if err != nil {
			tb.Fatalf("open %s: %v", d, err)
		}
		tb.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	if _, err := dbs[0].Migrate(ctx); err != nil {
		tb.Fatalf("migrate %s: %v", d, err)
	}
	return dbs
}

// Each runs fn as a subtest on every dialect.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Account creates an active account, as a sign-up does, and returns its
// id.
func Account(tb testing.TB, db *storage.DB) string {
	tb.Helper()
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "T", Email: apiws.NewID("e") + "@example.com", Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
	err := db.CreateAccount(context.Background(), acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now},
		&apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(acc.ID), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now})
	if err != nil {
		tb.Fatal(err)
	}
	return acc.ID
}
