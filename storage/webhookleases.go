package storage

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// FailureRunGap is the quiet spell after which a failed attempt starts a
// new run of failures: longer than the longest retry delay (10 h + 10 %),
// so a run lasts while failed deliveries are being retried.
const FailureRunGap = 12 * time.Hour

// WebhookLease is an instance's right to deliver to one endpoint until
// the lease's end. Token grows with every claim: a result is recorded only
// while the claim that made the attempt still holds, so each attempt is
// made and recorded once across instances.
type WebhookLease struct {
	EndpointID string
	Owner      string
	Token      int64
}

// ClaimWebhookEndpoints leases to owner, until until, up to limit enabled
// endpoints that have a pending delivery due at now and no live lease.
func (db *DB) ClaimWebhookEndpoints(ctx context.Context, owner string, now, until time.Time, limit int) ([]*WebhookEndpoint, error) {
	var eps []*WebhookEndpoint
	err := db.Bun.NewRaw(`UPDATE webhook_endpoints SET lease_owner = ?, lease_token = lease_token + 1, lease_until = ?
		WHERE id IN (
			SELECT e.id FROM webhook_endpoints e
			WHERE e.id IN (SELECT d.endpoint_id FROM webhook_deliveries d WHERE d.status = ? AND d.next_attempt_at <= ?)
				AND e.enabled AND (e.lease_until IS NULL OR e.lease_until < ?)
			LIMIT ?)
		AND enabled AND (lease_until IS NULL OR lease_until < ?)
		RETURNING *`, owner, until, apiws.DeliveryPending, now, now, limit, now).Scan(ctx, &eps)
	return eps, translate(err)
}

// NextWebhookWake returns when a deliverer may next find an endpoint to
// claim: the earliest next attempt of a pending delivery, or, when one is
// due already (its endpoint leased), the end of the first lease to end;
// zero when no delivery is pending or no lease holds one back.
func (db *DB) NextWebhookWake(ctx context.Context, now time.Time) (time.Time, error) {
	var due []time.Time
	err := db.Bun.NewSelect().Model((*webhookDelivery)(nil)).Column("next_attempt_at").
		Where("status = ? AND next_attempt_at IS NOT NULL", apiws.DeliveryPending).OrderExpr("next_attempt_at").Limit(1).Scan(ctx, &due)
	if err != nil || len(due) == 0 {
		return time.Time{}, translate(err)
	}
	if due[0].After(now) {
		return due[0], nil
	}
	var leases []time.Time
	err = db.Bun.NewSelect().Model((*WebhookEndpoint)(nil)).Column("lease_until").
		Where("lease_until > ?", now).OrderExpr("lease_until").Limit(1).Scan(ctx, &leases)
	if err != nil || len(leases) == 0 {
		return time.Time{}, translate(err)
	}
	return leases[0], nil
}

// LeaseOf is the lease a claim gave owner on e.
func LeaseOf(e *WebhookEndpoint, owner string) WebhookLease {
	return WebhookLease{EndpointID: e.ID, Owner: owner, Token: e.LeaseToken}
}

// RenewWebhookLease extends l to until if it still holds at now.
func (db *DB) RenewWebhookLease(ctx context.Context, l WebhookLease, now, until time.Time) (bool, error) {
	res, err := db.Bun.NewUpdate().Model((*WebhookEndpoint)(nil)).Set("lease_until = ?", until).
		Where("id = ? AND lease_owner = ? AND lease_token = ? AND lease_until > ?", l.EndpointID, l.Owner, l.Token, now).Exec(ctx)
	if err != nil {
		return false, translate(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseWebhookLease gives l up, so any instance may claim the endpoint
// again.
func (db *DB) ReleaseWebhookLease(ctx context.Context, l WebhookLease) error {
	_, err := db.Bun.NewUpdate().Model((*WebhookEndpoint)(nil)).Set("lease_until = NULL").
		Where("id = ? AND lease_owner = ? AND lease_token = ?", l.EndpointID, l.Owner, l.Token).Exec(ctx)
	return translate(err)
}

// holdLease checks, within tx, that l holds at now, extends it to until
// (when later than now), and locks the endpoint's row until tx ends.
func holdLease(ctx context.Context, tx bun.Tx, l WebhookLease, now, until time.Time) (bool, error) {
	q := tx.NewUpdate().Model((*WebhookEndpoint)(nil))
	if until.After(now) {
		q = q.Set("lease_until = ?", until)
	} else {
		q = q.Set("lease_token = lease_token")
	}
	res, err := q.Where("id = ? AND lease_owner = ? AND lease_token = ? AND lease_until > ?", l.EndpointID, l.Owner, l.Token, now).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// DueDeliveries returns up to limit pending deliveries of the endpoint due
// at now, in cursor order (PINGs first).
func (db *DB) DueDeliveries(ctx context.Context, endpointID string, now time.Time, limit int) ([]*apiws.WebhookDelivery, error) {
	var rows []*webhookDelivery
	err := db.Bun.NewSelect().Model(&rows).
		Where("endpoint_id = ? AND status = ? AND next_attempt_at <= ?", endpointID, apiws.DeliveryPending, now).
		OrderExpr("COALESCE(event_seq, 0), id").Limit(int64(limit)).Scan(ctx)
	return deliveries(rows), translate(err)
}

// LogEvents returns the account's events with the cursors, in cursor
// order.
func (db *DB) LogEvents(ctx context.Context, accountID string, seqs []int64) ([]*apiws.LogEvent, error) {
	if len(seqs) == 0 {
		return nil, nil
	}
	var evs []*apiws.LogEvent
	err := db.Bun.NewSelect().Model(&evs).Where("account_id = ? AND seq IN (?)", accountID, bun.List(seqs)).OrderExpr("seq").Scan(ctx)
	return evs, translate(err)
}

// RecordAttempts writes the outcomes of attempts of the endpoint's
// deliveries, made in the order of ds (each one's Status, Attempts, times,
// ResponseStatus and Error as the caller set them), if l still holds at
// now, extending l to until; and the endpoint's health: a success clears
// FailingSince, a failure after it starts it. After a success of an event
// that carries content, the event's transit content goes once every
// enabled endpoint's delivery of it succeeded. held is false, and nothing
// written, when the lease was lost; failingSince is the endpoint's after
// the attempts.
func (db *DB) RecordAttempts(ctx context.Context, l WebhookLease, ds []*apiws.WebhookDelivery, now, until time.Time) (held bool, failingSince *time.Time, err error) {
	if len(ds) == 0 {
		return true, nil, nil
	}
	var lastSuccess, failingFrom, lastFailure *time.Time
	for _, d := range ds {
		if d.Status == apiws.DeliverySucceeded {
			lastSuccess, failingFrom = d.LastAttemptAt, nil
			continue
		}
		if failingFrom == nil {
			failingFrom = d.LastAttemptAt
		}
		lastFailure = d.LastAttemptAt
	}
	err = db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		held, err = holdLease(ctx, tx, l, now, until)
		if err != nil || !held {
			return err
		}
		if err := updateDeliveries(ctx, tx, ds); err != nil {
			return err
		}
		health := tx.NewUpdate().Model((*WebhookEndpoint)(nil)).Where("id = ?", l.EndpointID).Returning("failing_since")
		switch {
		case lastSuccess != nil:
			health = health.Set("last_success_at = ?", *lastSuccess).Set("failing_since = ?", failingFrom)
		default:
			// A run of failures goes on while failed deliveries are being
			// retried; a failure after a quiet spell longer than any retry
			// delay (none was pending) starts a new run.
			health = health.Set("failing_since = CASE WHEN failing_since IS NULL OR last_failure_at IS NULL OR last_failure_at < ? THEN ? ELSE failing_since END",
				failingFrom.Add(-FailureRunGap), *failingFrom)
		}
		if lastFailure != nil {
			health = health.Set("last_failure_at = ?", *lastFailure)
		}
		if _, err := health.Exec(ctx, &failingSince); err != nil {
			return err
		}
		for _, d := range ds {
			if d.Status == apiws.DeliverySucceeded && d.EventCursor != nil && !d.Replay && d.EventType.CarriesContent() {
				if err := releaseTransit(ctx, tx, d.AccountID, *d.EventCursor); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return false, nil, translate(err)
	}
	return held, failingSince, nil
}

// updateDeliveries writes the outcomes of attempts in one statement (see
// caseUpdate). A delivery failed meanwhile (its endpoint disabled) stays
// so.
func updateDeliveries(ctx context.Context, tx bun.Tx, ds []*apiws.WebhookDelivery) error {
	u := newCaseUpdate("webhook_deliveries", ds, func(d *apiws.WebhookDelivery) string { return d.ID })
	column := u.set
	utc := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.UTC()
	}
	column("status", func(d *apiws.WebhookDelivery) any { return string(d.Status) })
	column("attempts", func(d *apiws.WebhookDelivery) any { return d.Attempts })
	column("last_attempt_at", func(d *apiws.WebhookDelivery) any { return utc(d.LastAttemptAt) })
	column("next_attempt_at", func(d *apiws.WebhookDelivery) any { return utc(d.NextAttemptAt) })
	column("response_status", func(d *apiws.WebhookDelivery) any { return d.ResponseStatus })
	column("error", func(d *apiws.WebhookDelivery) any { return d.Error })
	return u.exec(ctx, tx, "status = ?", apiws.DeliveryPending)
}

// releaseTransit nulls the transit content of the event once every enabled
// endpoint's delivery of it (replays aside) succeeded, and deletes the row
// when its media key is gone too.
func releaseTransit(ctx context.Context, tx bun.Tx, accountID string, seq int64) error {
	_, err := tx.NewRaw(`UPDATE inbound_transit SET content = NULL
		WHERE account_id = ? AND seq = ? AND content IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
			WHERE d.account_id = ? AND d.event_seq = ? AND NOT d.replay AND e.enabled AND d.status <> ?)`,
		accountID, seq, accountID, seq, apiws.DeliverySucceeded).Exec(ctx)
	if err != nil {
		return err
	}
	_, err = tx.NewDelete().Model((*InboundTransit)(nil)).
		Where("account_id = ? AND seq = ? AND content IS NULL AND media IS NULL", accountID, seq).Exec(ctx)
	return err
}

// releaseHeldBack releases the transit content that only the endpoint
// (disabled, or about to be deleted) held back: that of the events it had
// a delivery of whose every other enabled endpoint's delivery succeeded,
// at least one (an event no enabled endpoint received keeps its content
// until the TTL, for subscribers).
func releaseHeldBack(ctx context.Context, tx bun.Tx, accountID, endpointID string) error {
	_, err := tx.NewRaw(`UPDATE inbound_transit SET content = NULL
		WHERE account_id = ? AND content IS NOT NULL
			AND seq IN (SELECT event_seq FROM webhook_deliveries WHERE endpoint_id = ? AND account_id = ? AND event_seq IS NOT NULL AND NOT replay)
			AND EXISTS (SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.account_id = inbound_transit.account_id AND d.event_seq = inbound_transit.seq AND NOT d.replay
					AND e.enabled AND e.id <> ? AND d.status = ?)
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
				WHERE d.account_id = inbound_transit.account_id AND d.event_seq = inbound_transit.seq AND NOT d.replay
					AND e.enabled AND e.id <> ? AND d.status <> ?)`,
		accountID, endpointID, accountID, endpointID, apiws.DeliverySucceeded, endpointID, apiws.DeliverySucceeded).Exec(ctx)
	if err != nil {
		return err
	}
	_, err = tx.NewDelete().Model((*InboundTransit)(nil)).
		Where("account_id = ? AND content IS NULL AND media IS NULL", accountID).Exec(ctx)
	return err
}

// DisableWebhookEndpoint disables the endpoint of l for reason, if l still
// holds at now: its pending deliveries become FAILED ("endpoint
// disabled"), its lease ends, and the notice and mail that announce makes
// for the account are written. It reports whether l held.
func (db *DB) DisableWebhookEndpoint(ctx context.Context, l WebhookLease, reason string, now time.Time, announce func(acc *apiws.Account, e *apiws.WebhookEndpoint) (*apiws.Notice, *OutgoingMail)) (bool, error) {
	held := false
	err := db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		held, err = holdLease(ctx, tx, l, now, time.Time{})
		if err != nil || !held {
			return err
		}
		e := new(WebhookEndpoint)
		_, err = tx.NewUpdate().Model(e).Set("enabled = FALSE").Set("disabled_reason = ?", reason).Set("lease_until = NULL").
			Where("id = ?", l.EndpointID).Returning("*").Exec(ctx, e)
		if err != nil {
			return err
		}
		if err := failPending(ctx, tx, l.EndpointID, "endpoint disabled", now); err != nil {
			return err
		}
		if err := releaseHeldBack(ctx, tx, e.AccountID, e.ID); err != nil {
			return err
		}
		acc := new(apiws.Account)
		if err := tx.NewSelect().Model(acc).Column("id", "name", "email").Where("id = ?", e.AccountID).Scan(ctx); err != nil {
			return err
		}
		notice, mail := announce(acc, &e.WebhookEndpoint)
		if _, err := tx.NewInsert().Model(notice).Exec(ctx); err != nil {
			return err
		}
		_, err = tx.NewInsert().Model(mail).Exec(ctx)
		return err
	})
	return held, translate(err)
}

// PendingDeliveries counts the pending deliveries of every account.
func (db *DB) PendingDeliveries(ctx context.Context) (int, error) {
	n, err := db.Bun.NewSelect().Model((*webhookDelivery)(nil)).Where("status = ?", apiws.DeliveryPending).Count(ctx)
	return int(n), translate(err)
}

// TransitRows counts the rows of content in transit: inbound (the
// events') and outbound (kept for retry receipts).
func (db *DB) TransitRows(ctx context.Context) (inbound, outbound int, err error) {
	in, err := db.Bun.NewSelect().Model((*InboundTransit)(nil)).Count(ctx)
	if err != nil {
		return 0, 0, translate(err)
	}
	out, err := db.Bun.NewSelect().Model((*Transit)(nil)).Count(ctx)
	return int(in), int(out), translate(err)
}
