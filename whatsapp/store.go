package whatsapp

import (
	"context"
	"database/sql"
	"fmt"

	"go.mau.fi/whatsmeow/store/sqlstore"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// openDeviceStore keeps whatsmeow's device keys in db, next to apiws's own
// tables, creating or upgrading whatsmeow's tables. dialect is "postgres"
// (pgx's stdlib driver) or "sqlite" (modernc.org/sqlite). A SQLite db must
// have foreign keys on for every pooled connection
// ("file:apiws.db?_pragma=foreign_keys(1)"): whatsmeow deletes a device's
// keys through ON DELETE CASCADE and refuses to start without them.
func openDeviceStore(ctx context.Context, db *sql.DB, dialect string, log waLog.Logger) (*sqlstore.Container, error) {
	var name string
	switch dialect {
	case "postgres", "pgx":
		name = "postgres"
	case "sqlite", "sqlite3":
		name = "sqlite"
	default:
		// sqlstore.NewWithDB panics on a dialect it does not know.
		return nil, fmt.Errorf("whatsapp device store: unsupported dialect %q (want postgres or sqlite)", dialect)
	}
	c := sqlstore.NewWithDB(db, name, log)
	if err := c.Upgrade(ctx); err != nil {
		return nil, fmt.Errorf("whatsapp device store: upgrade: %w", err)
	}
	return c, nil
}
