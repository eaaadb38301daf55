package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// Group returns one group of the account, or ENOTFOUND (also when it
// belongs to another account).
func (db *DB) Group(ctx context.Context, accountID, id string) (*apiws.Group, error) {
	return selectOwned[apiws.Group](ctx, db.Bun, "group", accountID, id)
}

// GroupByJID returns the number's group with the JID, or ENOTFOUND.
func (db *DB) GroupByJID(ctx context.Context, numberID, jid string) (*apiws.Group, error) {
	return selectOne[apiws.Group](ctx, db.Bun, "group", "number_id = ? AND jid = ?", numberID, jid)
}

// GroupsByIDs returns the groups with the ids, of any account, in no
// particular order; ids of no group are left out.
func (db *DB) GroupsByIDs(ctx context.Context, ids []string) ([]*apiws.Group, error) {
	gs := []*apiws.Group{}
	if len(ids) == 0 {
		return gs, nil
	}
	err := db.Bun.NewSelect().Model(&gs).Where("id IN (?)", bun.List(ids)).Scan(ctx)
	return gs, translate(err)
}

// NumberGroups returns the groups the number is in (it has a role there),
// by id.
func (db *DB) NumberGroups(ctx context.Context, numberID string) ([]*apiws.Group, error) {
	gs := []*apiws.Group{}
	err := db.Bun.NewSelect().Model(&gs).Where("number_id = ? AND role IS NOT NULL", numberID).OrderExpr("id").Scan(ctx)
	return gs, translate(err)
}

// ChangeGroup reads the number's group with the JID (found false and g a
// new group of the number when there is none), lets change modify it and
// return the events that report the change, then writes the group and
// logs the events, in one transaction: concurrent changes of one group
// apply one after the other, and the log holds exactly the changes stored.
func (db *DB) ChangeGroup(ctx context.Context, n *apiws.Number, jid string, change func(g *apiws.Group, found bool) []*apiws.LogEvent) (*apiws.Group, []*apiws.LogEvent, error) {
	var g *apiws.Group
	var evs []*apiws.LogEvent
	run := func() error {
		return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
			g = new(apiws.Group)
			q := tx.NewSelect().Model(g).Where("number_id = ? AND jid = ?", n.ID, jid)
			if db.Dialect == Postgres {
				q = q.For("UPDATE")
			}
			err := q.Scan(ctx)
			found := err == nil
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if !found {
				g = &apiws.Group{ID: apiws.NewID(apiws.PrefixGroup), AccountID: n.AccountID, NumberID: n.ID, JID: jid}
			}
			evs = change(g, found)
			if found {
				_, err = tx.NewUpdate().Model(g).WherePK().Exec(ctx)
			} else {
				_, err = tx.NewInsert().Model(g).Exec(ctx)
			}
			if err != nil {
				return err
			}
			return db.appendEvents(ctx, tx, evs)
		})
	}
	err := run()
	if isUniqueViolation(err) {
		// Another transaction stored the group first: change that one.
		err = run()
	}
	if err != nil {
		return nil, nil, translate(err)
	}
	return g, evs, nil
}
