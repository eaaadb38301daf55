package storage

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// WebhookEndpoint is an endpoint as stored: the domain's fields, its
// sealed secrets, its health and the lease of the instance delivering to
// it.
type WebhookEndpoint struct {
	bun.BaseModel `bun:"table:webhook_endpoints"`
	apiws.WebhookEndpoint
	// Secret is the sealed signing secret; PreviousSecret, the one it
	// replaced, signs too until PreviousUntil.
	Secret         []byte     `bun:"secret,notnull"`
	PreviousSecret []byte     `bun:"previous_secret"`
	PreviousUntil  *time.Time `bun:"previous_until"`
	// LastSuccessAt is the end of its last successful attempt;
	// FailingSince, the start of its current run of failed attempts (nil
	// while the last attempt succeeded); LastFailureAt, the end of its last
	// failed attempt.
	LastSuccessAt *time.Time `bun:"last_success_at"`
	FailingSince  *time.Time `bun:"failing_since"`
	LastFailureAt *time.Time `bun:"last_failure_at"`
	LeaseOwner    *string    `bun:"lease_owner"`
	LeaseToken    int64      `bun:"lease_token,notnull"`
	LeaseUntil    *time.Time `bun:"lease_until"`
}

// webhookDelivery is the table of apiws.WebhookDelivery.
type webhookDelivery struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`
	apiws.WebhookDelivery
}

func deliveryRows(ds []*apiws.WebhookDelivery) []*webhookDelivery {
	rows := make([]*webhookDelivery, len(ds))
	for i, d := range ds {
		rows[i] = &webhookDelivery{WebhookDelivery: *d}
	}
	return rows
}

// insertBatch is how many rows one insert statement of deliveries holds.
const insertBatch = 500

func insertDeliveries(ctx context.Context, tx bun.IDB, ds []*apiws.WebhookDelivery) error {
	for len(ds) > 0 {
		n := min(len(ds), insertBatch)
		rows := deliveryRows(ds[:n])
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return err
		}
		ds = ds[n:]
	}
	return nil
}

// OnDeliveriesQueued sets fn to be called after each commit that queued
// webhook deliveries of logged events, so the deliverer wakes at once.
func (db *DB) OnDeliveriesQueued(fn func()) { db.deliveriesQueued.Store(&fn) }

// deliveriesHook holds the function OnDeliveriesQueued set.
type deliveriesHook = atomic.Pointer[func()]

func (db *DB) notifyDeliveriesQueued() {
	if fn := db.deliveriesQueued.Load(); fn != nil {
		(*fn)()
	}
}

// webhookEndpointsOf returns the enabled webhook endpoints of the
// accounts (their selections only), by account: one indexed query, made
// before the events' cursors are handed out.
func (db *DB) webhookEndpointsOf(ctx context.Context, tx bun.Tx, accounts []string) (map[string][]*apiws.WebhookEndpoint, error) {
	var eps []*WebhookEndpoint
	var err error
	if db.fixedShape() {
		err = db.queryTx(ctx, tx, planEach, db.webhookEndpointsQuery(), &eps, texts(accounts))
	} else {
		err = tx.NewSelect().Model(&eps).Column("id", "account_id", "types", "number_ids").
			Where("account_id IN (?) AND enabled", bun.List(accounts)).OrderExpr("id").Scan(ctx)
	}
	if err != nil || len(eps) == 0 {
		return nil, err
	}
	byAccount := map[string][]*apiws.WebhookEndpoint{}
	for _, e := range eps {
		byAccount[e.AccountID] = append(byAccount[e.AccountID], &e.WebhookEndpoint)
	}
	return byAccount, nil
}

// enqueueDeliveries queues one PENDING delivery of each event (their
// cursors assigned) to every endpoint of its account (webhookEndpointsOf)
// that selects it; without such endpoints it runs no statement.
func enqueueDeliveries(ctx context.Context, tx bun.Tx, endpoints map[string][]*apiws.WebhookEndpoint, evs []*apiws.LogEvent) error {
	if len(endpoints) == 0 {
		return nil
	}
	ds := deliveriesOf(endpoints, evs, time.Now().UTC())
	if len(ds) == 0 {
		return nil
	}
	if err := insertDeliveries(ctx, tx, ds); err != nil {
		return err
	}
	afterCommit(ctx, (*DB).notifyDeliveriesQueued)
	return nil
}

// deliveriesOf returns a PENDING delivery, due at now, of each event to
// each endpoint of its account that selects it.
func deliveriesOf(endpoints map[string][]*apiws.WebhookEndpoint, evs []*apiws.LogEvent, now time.Time) []*apiws.WebhookDelivery {
	var ds []*apiws.WebhookDelivery
	for _, ev := range evs {
		for _, e := range endpoints[ev.AccountID] {
			if e.Selects(ev.Type, ev.NumberID) {
				ds = append(ds, newDelivery(e, ev, now, false))
			}
		}
	}
	return ds
}

// newDelivery is a PENDING delivery of ev to e, due at now.
func newDelivery(e *apiws.WebhookEndpoint, ev *apiws.LogEvent, now time.Time, replay bool) *apiws.WebhookDelivery {
	seq := ev.Seq
	return &apiws.WebhookDelivery{
		ID: apiws.NewID(apiws.PrefixWebhookDelivery), EndpointID: e.ID, AccountID: ev.AccountID,
		EventType: ev.Type, EventCursor: &seq, EventAt: ev.At.UTC(), Status: apiws.DeliveryPending,
		Replay: replay, NextAttemptAt: &now, CreatedAt: now,
	}
}

// CreateWebhookEndpoint adds e unless its account has max endpoints
// already (EINVALID) or a number of numberIDs is not the account's
// (EINVALID on ["input", "numberIds"]).
func (db *DB) CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, max int) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		// Creations of one account take turns, so two cannot both pass the
		// count.
		q := tx.NewSelect().Table("accounts").Column("id").Where("id = ?", e.AccountID)
		var id string
		if err := db.forUpdate(q).Scan(ctx, &id); err != nil {
			return err
		}
		n, err := tx.NewSelect().Model((*WebhookEndpoint)(nil)).Where("account_id = ?", e.AccountID).Count(ctx)
		if err != nil {
			return err
		}
		if int(n) >= max {
			return apiws.FieldError(apiws.EINVALID, []string{"input"}, "an account has at most %d webhook endpoints", max)
		}
		if err := checkNumbers(ctx, tx, e.AccountID, e.NumberIDs, []string{"input", "numberIds"}); err != nil {
			return err
		}
		_, err = tx.NewInsert().Model(e).Exec(ctx)
		return err
	})
}

// checkNumbers answers EINVALID on field unless every id is a number of
// the account.
func checkNumbers(ctx context.Context, tx bun.IDB, accountID string, ids []string, field []string) error {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	err := tx.NewSelect().Table("numbers").Column("id").
		Where("account_id = ? AND id IN (?)", accountID, bun.List(ids)).Scan(ctx, &found)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			return apiws.FieldError(apiws.EINVALID, field, "%s is not a number of this account", id)
		}
	}
	return nil
}

// UpdateWebhookEndpoint reads the account's endpoint id (ENOTFOUND when
// it has none), lets change modify it and writes it back, in one
// transaction; an error of change (or of its number ids, checked as
// CreateWebhookEndpoint does) leaves it unchanged.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, accountID, id string, change func(e *WebhookEndpoint) error) (*WebhookEndpoint, error) {
	e := new(WebhookEndpoint)
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(e).Where("id = ? AND account_id = ?", id, accountID)
		if err := db.forUpdate(q).Scan(ctx); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return apiws.Errorf(apiws.ENOTFOUND, "no webhook endpoint %s", id)
			}
			return err
		}
		wasEnabled := e.Enabled
		if err := change(e); err != nil {
			return err
		}
		if err := checkNumbers(ctx, tx, accountID, e.NumberIDs, []string{"input", "numberIds"}); err != nil {
			return err
		}
		if wasEnabled && !e.Enabled {
			if err := failPending(ctx, tx, e.ID, "endpoint disabled", time.Now().UTC()); err != nil {
				return err
			}
			if err := releaseHeldBack(ctx, tx, accountID, e.ID); err != nil {
				return err
			}
		}
		_, err := tx.NewUpdate().Model(e).WherePK().
			Column("url", "description", "types", "number_ids", "enabled", "disabled_reason", "secret", "previous_secret", "previous_until", "failing_since").
			Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// failPending makes the endpoint's pending deliveries FAILED with reason.
func failPending(ctx context.Context, tx bun.IDB, endpointID, reason string, now time.Time) error {
	_, err := tx.NewUpdate().Model((*webhookDelivery)(nil)).
		Set("status = ?", apiws.DeliveryFailed).Set("error = ?", reason).Set("next_attempt_at = NULL").
		Where("endpoint_id = ? AND status = ?", endpointID, apiws.DeliveryPending).Exec(ctx)
	return err
}

// DeleteWebhookEndpoint deletes the account's endpoint id with its
// deliveries (and the transit content only it held back) and returns it;
// ENOTFOUND when the account has none.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) (*apiws.WebhookEndpoint, error) {
	var eps []*WebhookEndpoint
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := releaseHeldBack(ctx, tx, accountID, id); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model(&eps).Where("id = ? AND account_id = ?", id, accountID).Returning("*").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, translate(err)
	}
	if len(eps) == 0 {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "no webhook endpoint %s", id)
	}
	return &eps[0].WebhookEndpoint, nil
}

// WebhookEndpoint returns the account's endpoint id (any account's when
// accountID is ""), or ENOTFOUND.
func (db *DB) WebhookEndpoint(ctx context.Context, accountID, id string) (*WebhookEndpoint, error) {
	e := new(WebhookEndpoint)
	q := db.Bun.NewSelect().Model(e).Where("id = ?", id)
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, apiws.Errorf(apiws.ENOTFOUND, "no webhook endpoint %s", id)
		}
		return nil, translate(err)
	}
	return e, nil
}

// WebhookEndpoints lists the account's endpoints, oldest first.
func (db *DB) WebhookEndpoints(ctx context.Context, accountID string) ([]*apiws.WebhookEndpoint, error) {
	var eps []*WebhookEndpoint
	if err := db.Bun.NewSelect().Model(&eps).Where("account_id = ?", accountID).OrderExpr("id").Scan(ctx); err != nil {
		return nil, translate(err)
	}
	out := make([]*apiws.WebhookEndpoint, len(eps))
	for i, e := range eps {
		out[i] = &e.WebhookEndpoint
	}
	return out, nil
}

// WebhookEndpointsByIDs returns the endpoints with the ids (those that
// exist), for a loader: the caller has checked access to what led to them.
func (db *DB) WebhookEndpointsByIDs(ctx context.Context, ids []string) ([]*apiws.WebhookEndpoint, error) {
	var eps []*WebhookEndpoint
	if err := db.Bun.NewSelect().Model(&eps).Where("id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
		return nil, translate(err)
	}
	out := make([]*apiws.WebhookEndpoint, len(eps))
	for i, e := range eps {
		out[i] = &e.WebhookEndpoint
	}
	return out, nil
}

// QueueDeliveries adds deliveries (a PING).
func (db *DB) QueueDeliveries(ctx context.Context, ds ...*apiws.WebhookDelivery) error {
	return translate(insertDeliveries(ctx, db.Bun, ds))
}

// replayBatch is how many events a replay reads at a time.
const replayBatch = 1000

// ReplayDeliveries queues a new (replay) delivery to e of every event of
// its account after the cursor that e selects, and returns how many. A
// cursor beyond the account's last is EINVALID on ["after"].
func (db *DB) ReplayDeliveries(ctx context.Context, e *apiws.WebhookEndpoint, after int64, now time.Time) (int, error) {
	count := 0
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var last int64
		err := tx.NewSelect().Table("event_counters").Column("last_seq").Where("account_id = ?", e.AccountID).Scan(ctx, &last)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if after > last {
			return apiws.FieldError(apiws.EINVALID, []string{"after"}, "after %d is beyond the last cursor of the account (%d)", after, last)
		}
		for {
			var evs []*apiws.LogEvent
			q := tx.NewSelect().Model(&evs).Column("account_id", "seq", "type", "number_id", "at").
				Where("account_id = ? AND seq > ?", e.AccountID, after).OrderExpr("seq").Limit(replayBatch)
			if len(e.Types) > 0 {
				q = q.Where("type IN (?)", bun.List(e.Types))
			}
			if len(e.NumberIDs) > 0 {
				q = q.Where("number_id IN (?)", bun.List(e.NumberIDs))
			}
			if err := q.Scan(ctx); err != nil {
				return err
			}
			if len(evs) == 0 {
				return nil
			}
			ds := make([]*apiws.WebhookDelivery, len(evs))
			for i, ev := range evs {
				ds[i] = newDelivery(e, ev, now, true)
			}
			if err := insertDeliveries(ctx, tx, ds); err != nil {
				return err
			}
			count += len(ds)
			after = evs[len(evs)-1].Seq
		}
	})
	return count, err
}

// WebhookDeliveries pages the endpoint's deliveries, newest first, in the
// statuses (any when empty).
func (db *DB) WebhookDeliveries(ctx context.Context, endpointID string, statuses []apiws.WebhookDeliveryStatus, p apiws.Page) (apiws.List[*apiws.WebhookDelivery], error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("endpoint_id = ?", endpointID)
		if len(statuses) > 0 {
			q = q.Where("status IN (?)", bun.List(statuses))
		}
		return q
	}
	var rows []*webhookDelivery
	q := filter(db.Bun.NewSelect().Model(&rows)).OrderExpr("id DESC").Limit(int64(p.OneMore().First))
	if p.After != "" {
		q = q.Where("id < ?", p.After)
	}
	if err := q.Scan(ctx); err != nil {
		return apiws.List[*apiws.WebhookDelivery]{}, translate(err)
	}
	total, err := filter(db.Bun.NewSelect().Model((*webhookDelivery)(nil))).Count(ctx)
	if err != nil {
		return apiws.List[*apiws.WebhookDelivery]{}, translate(err)
	}
	return apiws.ListOf(deliveries(rows), p, int(total)), nil
}

func deliveries(rows []*webhookDelivery) []*apiws.WebhookDelivery {
	out := make([]*apiws.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = &r.WebhookDelivery
	}
	return out
}

// WebhookDelivery returns the account's delivery id (any account's when
// accountID is ""), or ENOTFOUND.
func (db *DB) WebhookDelivery(ctx context.Context, accountID, id string) (*apiws.WebhookDelivery, error) {
	r := new(webhookDelivery)
	q := db.Bun.NewSelect().Model(r).Where("id = ?", id)
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	if err := q.Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, apiws.Errorf(apiws.ENOTFOUND, "no webhook delivery %s", id)
		}
		return nil, translate(err)
	}
	return &r.WebhookDelivery, nil
}
