package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func TestLeasesFenceStaleOwners(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		tokA, ok, err := db.ClaimLease(ctx, "num_1", "a", now, now.Add(5*time.Second))
		if err != nil || !ok || tokA != 1 {
			t.Fatalf("first claim = %d, %v, %v", tokA, ok, err)
		}
		if _, ok, _ := db.ClaimLease(ctx, "num_1", "b", now.Add(time.Second), now.Add(6*time.Second)); ok {
			t.Fatal("b took a live lease")
		}
		if held, _ := db.LeaseHeld(ctx, "num_1", "a", tokA, now.Add(time.Second)); !held {
			t.Fatal("a's live lease is not held")
		}
		// a stops renewing (paused); after expiry b takes over with a new token.
		later := now.Add(10 * time.Second)
		tokB, ok, err := db.ClaimLease(ctx, "num_1", "b", later, later.Add(5*time.Second))
		if err != nil || !ok || tokB != tokA+1 {
			t.Fatalf("takeover = %d, %v, %v", tokB, ok, err)
		}
		if held, _ := db.LeaseHeld(ctx, "num_1", "a", tokA, later); held {
			t.Fatal("the stale owner still passes the fence")
		}
		renewed, err := db.RenewLeases(ctx, "a", map[string]int64{"num_1": tokA}, later.Add(time.Hour))
		if err != nil || renewed["num_1"] {
			t.Fatalf("the stale owner renewed: %v, %v", renewed, err)
		}
		if err := db.ReleaseAll(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if tok, ok, _ := db.ClaimLease(ctx, "num_1", "c", later, later.Add(5*time.Second)); !ok || tok != 1 {
			t.Fatalf("claim after release = %d, %v", tok, ok)
		}
		if err := db.Heartbeat(ctx, "c", later, later.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.LiveInstances(ctx, later.Add(-time.Second)); n != 1 {
			t.Fatalf("live instances = %d", n)
		}
	})
}
