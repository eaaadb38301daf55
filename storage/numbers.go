package storage

import (
	"context"
	"database/sql"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// errPairingConflict is what a second pairing of one account meets: the
// numbers_one_pairing index allows one PAIRING number per account.
func errPairingConflict() error {
	return apiws.Errorf(apiws.ECONFLICT, "another number of this account is pairing; finish or remove it first")
}

// CreateNumber writes a new number. A PAIRING number while the account
// already has one is ECONFLICT and writes nothing.
func (db *DB) CreateNumber(ctx context.Context, n *apiws.Number) error {
	_, err := db.CreateNumberLogged(ctx, n, nil)
	return err
}

// CreateNumberLogged is CreateNumber that also logs the number's status
// (note; nil logs nothing) in the same transaction, and returns the event.
func (db *DB) CreateNumberLogged(ctx context.Context, n *apiws.Number, note *StatusNote) (*apiws.LogEvent, error) {
	var ev *apiws.LogEvent
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(n).Exec(ctx); err != nil {
			return err
		}
		if note == nil {
			return nil
		}
		ev = note.event(n)
		return db.appendEvents(ctx, tx, []*apiws.LogEvent{ev})
	})
	if isUniqueViolation(err) {
		return nil, errPairingConflict()
	}
	if err != nil {
		return nil, translate(err)
	}
	return ev, nil
}

// StatusNote asks for a number's status to be logged (a NUMBER_STATUS
// event) with the change that moves it, in the same transaction.
type StatusNote struct {
	At     time.Time
	Reason string
	// Log decides, after the change, whether to log: was is the status
	// before it. Nil logs when the status changed.
	Log func(was apiws.NumberStatus, n *apiws.Number, changed bool) bool
}

func (sn *StatusNote) logs(was apiws.NumberStatus, n *apiws.Number, changed bool) bool {
	if sn.Log != nil {
		return sn.Log(was, n, changed)
	}
	return changed && n.Status != was
}

// event is the NUMBER_STATUS event of n, which carries a copy of n as it
// is now.
func (sn *StatusNote) event(n *apiws.Number) *apiws.LogEvent {
	snapshot := *n
	return &apiws.LogEvent{AccountID: n.AccountID, Type: apiws.EventTypeNumberStatus, NumberID: n.ID, At: sn.At.UTC(),
		Detail: &apiws.EventDetail{NumberStatus: n.Status, Reason: apiws.NilIfEmpty(sn.Reason), Number: &snapshot}}
}

// Number returns one number of the account, or ENOTFOUND (also when it
// belongs to another account).
func (db *DB) Number(ctx context.Context, accountID, id string) (*apiws.Number, error) {
	return selectOwned[apiws.Number](ctx, db.Bun, "number", accountID, id)
}

// NumberByID returns the number with id whatever its account, or
// ENOTFOUND; for events that name a number only.
func (db *DB) NumberByID(ctx context.Context, id string) (*apiws.Number, error) {
	// Read at every dispatcher pass: a hot statement.
	q := db.hotQuery("NumberByID", func() string {
		return db.Bun.NewSelect().Model((*apiws.Number)(nil)).Where("id = ?", placeholder).String()
	})
	var ns []*apiws.Number
	err := db.queryHot(ctx, q, &ns, id)
	if err == nil && len(ns) == 0 {
		err = sql.ErrNoRows
	}
	if err != nil {
		return nil, notFound(err, "number")
	}
	return ns[0], nil
}

// ListNumbers pages through an account's numbers, newest first, optionally
// only those in the statuses. after is the id of the last number of the
// previous page. The total counts every number the filter matches.
func (db *DB) ListNumbers(ctx context.Context, accountID string, statuses []apiws.NumberStatus, first int, after string) ([]*apiws.Number, int, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("account_id = ?", accountID)
		if len(statuses) > 0 {
			q = q.Where("status IN (?)", bun.List(statuses))
		}
		return q
	}
	total, err := filter(db.Bun.NewSelect().Model((*apiws.Number)(nil))).Count(ctx)
	if err != nil {
		return nil, 0, translate(err)
	}
	ns := []*apiws.Number{}
	q := filter(db.Bun.NewSelect().Model(&ns)).OrderExpr("id DESC").Limit(int64(first))
	if after != "" {
		q = q.Where("id < ?", after)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, 0, translate(err)
	}
	return ns, int(total), nil
}

// ChangeNumber reads the number with id, lets change modify it and, if
// change reports a change, writes it back, all in one transaction so that
// concurrent changes of one number apply one after the other. It returns
// the number as it is afterwards. Moving a number to PAIRING while the
// account has another PAIRING number is ECONFLICT.
func (db *DB) ChangeNumber(ctx context.Context, id string, change func(n *apiws.Number) bool) (n *apiws.Number, changed bool, err error) {
	n, changed, _, err = db.ChangeNumberLogged(ctx, id, change, nil)
	return n, changed, err
}

// ChangeNumberLogged is ChangeNumber that also logs the number's status as
// note says (nil logs nothing), in the same transaction, and returns the
// event it logged, if any.
func (db *DB) ChangeNumberLogged(ctx context.Context, id string, change func(n *apiws.Number) bool, note *StatusNote) (n *apiws.Number, changed bool, ev *apiws.LogEvent, err error) {
	err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n = new(apiws.Number)
		q := tx.NewSelect().Model(n).Where("id = ?", id)
		if db.Dialect == Postgres {
			q = q.For("UPDATE") // SQLite's immediate transactions already serialize writers
		}
		if err := q.Scan(ctx); err != nil {
			return notFound(err, "number")
		}
		was := n.Status
		if changed = change(n); changed {
			_, err := tx.NewUpdate().Model(n).WherePK().Exec(ctx)
			if isUniqueViolation(err) {
				return errPairingConflict()
			}
			if err != nil {
				return err
			}
		}
		if note == nil || !note.logs(was, n, changed) {
			return nil
		}
		ev = note.event(n)
		return db.appendEvents(ctx, tx, []*apiws.LogEvent{ev})
	})
	if err != nil {
		return nil, false, nil, err
	}
	return n, changed, ev, nil
}

// DeleteNumber deletes one number of the account, or answers ENOTFOUND.
func (db *DB) DeleteNumber(ctx context.Context, accountID, id string) error {
	res, err := db.Bun.NewDelete().Model((*apiws.Number)(nil)).Where("id = ? AND account_id = ?", id, accountID).Exec(ctx)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apiws.Errorf(apiws.ENOTFOUND, "number not found")
	}
	return nil
}

// AbandonStalePairings marks LOGGED_OUT (never linked) the account's PAIRING
// numbers whose pairing last promised a step before the time given: the
// instance that ran it is gone, and they would block every new pairing.
// It returns how many there were.
func (db *DB) AbandonStalePairings(ctx context.Context, accountID string, before time.Time) (int, error) {
	res, err := db.Bun.NewUpdate().Model((*apiws.Number)(nil)).
		Set("status = ?", apiws.NumberLoggedOut).
		Set("pairing = NULL").
		Set("pairing_expires_at = NULL").
		Where("account_id = ? AND status = ?", accountID, apiws.NumberPairing).
		Where("COALESCE(pairing_expires_at, created_at) < ?", before).
		Exec(ctx)
	if err != nil {
		return 0, translate(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PairedNumbers returns every number, of any account, that is paired and
// neither logged out nor banned for good (a temporary ban's end is known):
// those whose leases the instances share.
func (db *DB) PairedNumbers(ctx context.Context) ([]*apiws.Number, error) {
	var ns []*apiws.Number
	err := db.Bun.NewSelect().Model(&ns).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("status IN (?)", bun.List([]apiws.NumberStatus{apiws.NumberConnected, apiws.NumberConnecting, apiws.NumberDisconnected})).
				WhereOr("status = ? AND ban_expires_at IS NOT NULL", apiws.NumberBanned)
		}).
		Where("jid IS NOT NULL").
		OrderExpr("id").Scan(ctx)
	return ns, translate(err)
}

// NumbersByIDs returns the numbers with the ids; missing ones are left out.
func (db *DB) NumbersByIDs(ctx context.Context, ids []string) ([]*apiws.Number, error) {
	var ns []*apiws.Number
	err := db.Bun.NewSelect().Model(&ns).Where("id IN (?)", bun.List(ids)).Scan(ctx)
	return ns, translate(err)
}
