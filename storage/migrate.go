package storage

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationTypes fills the column types of the migrations' templates, so one
// file serves both dialects.
type migrationTypes struct {
	Postgres bool
	TS       string // a point in time, UTC
	Bytes    string
	Serial   string // an auto-incrementing 64-bit primary key
}

func (db *DB) migrator() (*migrate.Migrator, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	types := migrationTypes{TS: "TEXT", Bytes: "BLOB", Serial: "INTEGER PRIMARY KEY AUTOINCREMENT"}
	if db.Dialect == Postgres {
		types = migrationTypes{Postgres: true, TS: "TIMESTAMPTZ", Bytes: "BYTEA", Serial: "BIGSERIAL PRIMARY KEY"}
	}
	return migrate.NewMigrator(db.Bun, ms,
		migrate.WithTemplateData(types),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithTableName("apiws_migrations"),
		migrate.WithLocksTableName("apiws_migration_locks"),
	), nil
}

// Migrate brings the schema up to date. Several processes may call it at
// once: one migrates while the others wait for its lock.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	m, err := db.migrator()
	if err != nil {
		return nil, err
	}
	var names []string
	err = db.underLock(ctx, m, func(ctx context.Context) error {
		group, err := m.Migrate(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, mg := range group.Migrations {
			names = append(names, mg.String())
		}
		return nil
	})
	return names, err
}

// UnderMigrationLock runs fn while holding the lock Migrate takes, waiting
// for it as Migrate does. Schema upgrades that take no lock of their own
// (whatsmeow's) run under it, so that instances starting together do not
// upgrade the same tables at once.
func (db *DB) UnderMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	m, err := db.migrator()
	if err != nil {
		return err
	}
	return db.underLock(ctx, m, fn)
}

func (db *DB) underLock(ctx context.Context, m *migrate.Migrator, fn func(ctx context.Context) error) error {
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init migrations: %w", translate(err))
	}
	for {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the migration lock: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer func() { _ = m.Unlock(context.WithoutCancel(ctx)) }()
	return fn(ctx)
}
