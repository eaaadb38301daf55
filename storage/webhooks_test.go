package storage_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func newEndpoint(accountID string, types []apiws.EventType, numberIDs []string) *storage.WebhookEndpoint {
	return &storage.WebhookEndpoint{
		WebhookEndpoint: apiws.WebhookEndpoint{ID: apiws.NewID(apiws.PrefixWebhookEndpoint), AccountID: accountID,
			URL: "https://hooks.example.com/x", Types: types, NumberIDs: numberIDs, Enabled: true, CreatedAt: time.Now().UTC()},
		Secret: []byte("sealed"),
	}
}

func mustEndpoint(t *testing.T, db *storage.DB, e *storage.WebhookEndpoint) *storage.WebhookEndpoint {
	t.Helper()
	if err := db.CreateWebhookEndpoint(context.Background(), e, apiws.MaxWebhookEndpoints); err != nil {
		t.Fatal(err)
	}
	return e
}

// A logged event gets one delivery per enabled endpoint of its account
// that selects its type and number, queued in the transaction that logs
// it, and the hook runs after the commit.
func TestEnqueueDeliveries(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var nudges atomic.Int32
		db.OnDeliveriesQueued(func() { nudges.Add(1) })
		acc := mustAccount(t, db, "hooks@example.com")
		other := mustAccount(t, db, "hooks-other@example.com")
		n1, n2 := newNumber(acc.ID, apiws.NumberConnected), newNumber(acc.ID, apiws.NumberConnected)
		for _, n := range []*apiws.Number{n1, n2} {
			if err := db.CreateNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		all := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		statusOnly := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{apiws.EventTypeMessageStatus}, []string{}))
		received := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{apiws.EventTypeMessageReceived}, []string{}))
		n2Only := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{n2.ID}))
		disabled := newEndpoint(acc.ID, []apiws.EventType{}, []string{})
		disabled.Enabled = false
		mustEndpoint(t, db, disabled)
		elsewhere := mustEndpoint(t, db, newEndpoint(other.ID, []apiws.EventType{}, []string{}))

		ev, err := db.QueueMessage(ctx, queued(acc, n1.ID, "WA1", nil), []byte("sealed"))
		if err != nil {
			t.Fatal(err)
		}
		if nudges.Load() != 1 {
			t.Fatalf("hook ran %d times, want 1", nudges.Load())
		}
		for _, c := range []struct {
			e    *storage.WebhookEndpoint
			want int
		}{{all, 1}, {statusOnly, 1}, {received, 0}, {n2Only, 0}, {disabled, 0}, {elsewhere, 0}} {
			l, err := db.WebhookDeliveries(ctx, c.e.ID, nil, apiws.Page{First: 10})
			if err != nil || len(l.Items) != c.want || l.Total != c.want {
				t.Fatalf("deliveries of %v/%v = %+v, %v; want %d", c.e.Types, c.e.NumberIDs, l, err, c.want)
			}
			if c.want == 1 {
				d := l.Items[0]
				if d.Status != apiws.DeliveryPending || d.EventCursor == nil || *d.EventCursor != ev.Seq || d.EventType != apiws.EventTypeMessageStatus || d.Replay {
					t.Fatalf("delivery = %+v", d)
				}
			}
		}
		// No endpoint selects it: nothing queued, no nudge.
		if _, err := db.QueueMessage(ctx, queued(other, "num_x", "WA2", nil), []byte("sealed")); err != nil {
			t.Fatal(err)
		}
		if l, _ := db.WebhookDeliveries(ctx, elsewhere.ID, nil, apiws.Page{First: 10}); l.Total != 1 {
			t.Fatalf("elsewhere has %d deliveries", l.Total)
		}
	})
}

// Claims lease each endpoint to one owner at a time; a lost lease records
// nothing; a success releases the event's transit content once every
// enabled endpoint has its delivery.
func TestWebhookLeases(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "leases@example.com")
		e1 := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		e2 := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		ev, err := db.InsertInbound(ctx, inbound(acc, "num_a", "WA1"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Bun.NewInsert().Model(&storage.InboundTransit{AccountID: acc.ID, Seq: ev.Seq, Content: []byte("c"),
			ExpiresAt: time.Now().Add(time.Hour).UTC()}).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		now := time.Now().UTC()
		a, err := db.ClaimWebhookEndpoints(ctx, "a", now, now.Add(30*time.Second), 10)
		if err != nil || len(a) != 2 {
			t.Fatalf("claim a = %d, %v", len(a), err)
		}
		if b, err := db.ClaimWebhookEndpoints(ctx, "b", now, now.Add(30*time.Second), 10); err != nil || len(b) != 0 {
			t.Fatalf("claim b while a holds = %d, %v", len(b), err)
		}
		// Due, but leased: the next chance is the end of a's leases.
		if w, err := db.NextWebhookWake(ctx, now); err != nil || w.Sub(now.Add(30*time.Second)).Abs() > time.Millisecond {
			t.Fatalf("next wake while leased = %v, %v", w, err)
		}
		// a's leases expire: b takes them, and a can no longer record.
		later := now.Add(31 * time.Second)
		b, err := db.ClaimWebhookEndpoints(ctx, "b", later, later.Add(30*time.Second), 10)
		if err != nil || len(b) != 2 {
			t.Fatalf("claim b after expiry = %d, %v", len(b), err)
		}
		due, err := db.DueDeliveries(ctx, e1.ID, later, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due = %v, %v", due, err)
		}
		d := due[0]
		d.Status, d.Attempts, d.LastAttemptAt, d.NextAttemptAt = apiws.DeliverySucceeded, 1, &later, nil
		stale := storage.LeaseOf(a[0], "a")
		if stale.EndpointID != e1.ID {
			stale = storage.LeaseOf(a[1], "a")
		}
		if held, _, err := db.RecordAttempts(ctx, stale, []*apiws.WebhookDelivery{d}, later, later.Add(30*time.Second)); err != nil || held {
			t.Fatalf("stale record = %v, %v", held, err)
		}
		lease := func(id string) storage.WebhookLease {
			for _, e := range b {
				if e.ID == id {
					return storage.LeaseOf(e, "b")
				}
			}
			t.Fatalf("no lease of %s", id)
			return storage.WebhookLease{}
		}
		if held, fs, err := db.RecordAttempts(ctx, lease(e1.ID), []*apiws.WebhookDelivery{d}, later, later.Add(30*time.Second)); err != nil || !held || fs != nil {
			t.Fatalf("record = %v, %v, %v", held, fs, err)
		}
		if content(t, db, acc.ID, ev.Seq) == nil {
			t.Fatal("transit content released while e2's delivery is pending")
		}
		// e2 fails once, then succeeds: the content goes, and the row with
		// it (no media).
		d2, _ := db.DueDeliveries(ctx, e2.ID, later, 10)
		next := later.Add(5 * time.Second)
		d2[0].Attempts, d2[0].LastAttemptAt, d2[0].NextAttemptAt, d2[0].ResponseStatus = 1, &later, &next, ptr(500)
		if held, fs, err := db.RecordAttempts(ctx, lease(e2.ID), []*apiws.WebhookDelivery{d2[0]}, later, later.Add(30*time.Second)); err != nil || !held || fs == nil || fs.Sub(later).Abs() > time.Millisecond {
			t.Fatalf("record failure = %v, %v, %v", held, fs, err)
		}
		if due, _ := db.DueDeliveries(ctx, e2.ID, later, 10); len(due) != 0 {
			t.Fatalf("a failed delivery is due before its next attempt: %v", due)
		}
		if w, err := db.NextWebhookWake(ctx, later); err != nil || w.Sub(next).Abs() > time.Millisecond {
			t.Fatalf("next wake = %v, %v; want the retry at %v", w, err, next)
		}
		d2[0].Status, d2[0].Attempts, d2[0].NextAttemptAt = apiws.DeliverySucceeded, 2, nil
		if held, fs, err := db.RecordAttempts(ctx, lease(e2.ID), []*apiws.WebhookDelivery{d2[0]}, next, next.Add(30*time.Second)); err != nil || !held || fs != nil {
			t.Fatalf("record success = %v, %v, %v", held, fs, err)
		}
		if n, _ := db.Bun.NewSelect().Model((*storage.InboundTransit)(nil)).Count(ctx); n != 0 {
			t.Fatalf("%d transit rows left", n)
		}
		if n, err := db.PendingDeliveries(ctx); err != nil || n != 0 {
			t.Fatalf("pending = %d, %v", n, err)
		}
	})
}

// inbound is a message just received by the number.
func inbound(acc *apiws.Account, numberID, waID string) *apiws.Message {
	now := time.Now().UTC()
	return &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc.ID, NumberID: numberID, Direction: apiws.Inbound,
		Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &now}
}

func content(t *testing.T, db *storage.DB, accountID string, seq int64) []byte {
	t.Helper()
	var it storage.InboundTransit
	if err := db.Bun.NewSelect().Model(&it).Where("account_id = ? AND seq = ?", accountID, seq).Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	return it.Content
}

// Disabling fails the endpoint's pending deliveries and writes the notice
// and the mail; replays make new deliveries of the logged events after the
// cursor, and none beyond the log's end.
func TestDisableAndReplay(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "disable@example.com")
		e := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		var seqs []int64
		for _, wa := range []string{"WA1", "WA2", "WA3"} {
			ev, err := db.QueueMessage(ctx, queued(acc, "num_a", wa, nil), []byte("sealed"))
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, ev.Seq)
		}
		n, err := db.ReplayDeliveries(ctx, &e.WebhookEndpoint, seqs[0], time.Now().UTC())
		if err != nil || n != 2 {
			t.Fatalf("replay = %d, %v", n, err)
		}
		if _, err := db.ReplayDeliveries(ctx, &e.WebhookEndpoint, seqs[2]+1, time.Now().UTC()); apiws.ErrorCodeOf(err) != apiws.EINVALID {
			t.Fatalf("replay beyond the end = %v", err)
		}
		now := time.Now().UTC()
		claimed, err := db.ClaimWebhookEndpoints(ctx, "a", now, now.Add(time.Minute), 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim = %v, %v", claimed, err)
		}
		held, err := db.DisableWebhookEndpoint(ctx, storage.LeaseOf(claimed[0], "a"), "410 Gone", now,
			func(a *apiws.Account, ep *apiws.WebhookEndpoint) (*apiws.Notice, *storage.OutgoingMail) {
				return &apiws.Notice{ID: apiws.NewID(apiws.PrefixNotice), AccountID: a.ID, Title: "disabled", Body: ep.URL, CreatedAt: now},
					&storage.OutgoingMail{ID: apiws.NewID("mail"), AccountID: &a.ID, To: a.Email, Subject: "disabled", Body: ep.URL, CreatedAt: now, NextAttemptAt: now}
			})
		if err != nil || !held {
			t.Fatalf("disable = %v, %v", held, err)
		}
		l, err := db.WebhookDeliveries(ctx, e.ID, []apiws.WebhookDeliveryStatus{apiws.DeliveryFailed}, apiws.Page{First: 2})
		if err != nil || l.Total != 5 || len(l.Items) != 2 || !l.More || *l.Items[0].Error != "endpoint disabled" {
			t.Fatalf("failed deliveries = %+v, %v", l, err)
		}
		if !(l.Items[0].ID > l.Items[1].ID) {
			t.Fatal("deliveries are not newest first")
		}
		got, err := db.WebhookEndpoint(ctx, acc.ID, e.ID)
		if err != nil || got.Enabled || got.DisabledReason == nil || *got.DisabledReason != "410 Gone" {
			t.Fatalf("endpoint = %+v, %v", got, err)
		}
		ns, _ := db.Notices(ctx, acc.ID, false)
		if !slices.ContainsFunc(ns, func(n *apiws.Notice) bool { return n.Body == e.URL }) {
			t.Fatalf("notices = %v", ns)
		}
	})
}

// An endpoint that is disabled or deleted no longer holds back the
// transit content of the events the others received; an event no enabled
// endpoint received keeps it.
func TestDisabledEndpointReleasesTransit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "held@example.com")
		ok := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		down := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		var seqs []int64
		for _, wa := range []string{"WA1", "WA2"} {
			ev, err := db.InsertInbound(ctx, inbound(acc, "num_a", wa), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Bun.NewInsert().Model(&storage.InboundTransit{AccountID: acc.ID, Seq: ev.Seq, Content: []byte("c"),
				ExpiresAt: time.Now().Add(time.Hour).UTC()}).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, ev.Seq)
		}
		// ok receives the first event only.
		now := time.Now().UTC()
		claimed, err := db.ClaimWebhookEndpoints(ctx, "a", now, now.Add(time.Minute), 10)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claim = %d, %v", len(claimed), err)
		}
		due, _ := db.DueDeliveries(ctx, ok.ID, now, 10)
		due[0].Status, due[0].Attempts, due[0].LastAttemptAt, due[0].NextAttemptAt = apiws.DeliverySucceeded, 1, &now, nil
		l := storage.LeaseOf(claimed[0], "a")
		if l.EndpointID != ok.ID {
			l = storage.LeaseOf(claimed[1], "a")
		}
		if held, _, err := db.RecordAttempts(ctx, l, due[:1], now, now.Add(time.Minute)); err != nil || !held {
			t.Fatalf("record = %v, %v", held, err)
		}
		if content(t, db, acc.ID, seqs[0]) == nil {
			t.Fatal("released while the other endpoint's delivery is pending")
		}
		if _, err := db.UpdateWebhookEndpoint(ctx, acc.ID, down.ID, func(e *storage.WebhookEndpoint) error {
			e.Enabled = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n, _ := db.Bun.NewSelect().Model((*storage.InboundTransit)(nil)).Where("account_id = ?", acc.ID).Count(ctx)
		if n != 1 || content(t, db, acc.ID, seqs[1]) == nil {
			t.Fatalf("after disabling: %d transit rows, want the second event's only", n)
		}
		// Deleting the last endpoint leaves the second event's content (no
		// enabled endpoint received it) to the TTL.
		if _, err := db.DeleteWebhookEndpoint(ctx, acc.ID, ok.ID); err != nil {
			t.Fatal(err)
		}
		if content(t, db, acc.ID, seqs[1]) == nil {
			t.Fatal("content released that no endpoint received")
		}
	})
}

// A run of failures lasts while failed deliveries are retried; a failure
// after a quiet spell (nothing was pending) starts a new one.
func TestFailureRuns(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "runs@example.com")
		e := mustEndpoint(t, db, newEndpoint(acc.ID, []apiws.EventType{}, []string{}))
		start := time.Now().UTC().Add(time.Second) // after the deliveries are queued
		fail := func(at time.Time) *time.Time {
			t.Helper()
			if _, err := db.QueueMessage(ctx, queued(acc, "num_a", apiws.NewID("wa"), nil), []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			claimed, err := db.ClaimWebhookEndpoints(ctx, "a", at, at.Add(time.Minute), 1)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim at %v = %d, %v", at, len(claimed), err)
			}
			due, _ := db.DueDeliveries(ctx, e.ID, at, 1)
			next := at.Add(time.Hour)
			due[0].Attempts, due[0].LastAttemptAt, due[0].NextAttemptAt = 1, &at, &next
			due[0].Status = apiws.DeliveryFailed // out of the way of the next claim
			held, fs, err := db.RecordAttempts(ctx, storage.LeaseOf(claimed[0], "a"), due, at, at.Add(time.Minute))
			if err != nil || !held {
				t.Fatalf("record = %v, %v", held, err)
			}
			if err := db.ReleaseWebhookLease(ctx, storage.LeaseOf(claimed[0], "a")); err != nil {
				t.Fatal(err)
			}
			return fs
		}
		near := func(a *time.Time, b time.Time) bool { return a != nil && a.Sub(b).Abs() < time.Millisecond }
		if fs := fail(start); !near(fs, start) {
			t.Fatalf("first failure: failing since %v", fs)
		}
		if fs := fail(start.Add(10 * time.Hour)); !near(fs, start) {
			t.Fatalf("10 h on: failing since %v, want the run's start", fs)
		}
		later := start.Add(10*time.Hour + storage.FailureRunGap + time.Minute)
		if fs := fail(later); !near(fs, later) {
			t.Fatalf("after a quiet spell: failing since %v, want a new run at %v", fs, later)
		}
	})
}
