package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// mustAccount writes an account for number tests.
func mustAccount(t *testing.T, db *storage.DB, email string) *apiws.Account {
	t.Helper()
	acc, c, s, a := newAccount(email)
	if err := db.CreateAccount(context.Background(), acc, c, s, a); err != nil {
		t.Fatal(err)
	}
	return acc
}

func newNumber(accountID string, status apiws.NumberStatus) *apiws.Number {
	return &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: accountID, Status: status,
		Sandbox: true, CreatedAt: time.Now().UTC()}
}

func TestNumberRoundTripAndOwnership(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "n1@example.com")
		other := mustAccount(t, db, "n2@example.com")
		n := newNumber(acc.ID, apiws.NumberPairing)
		n.Label = ptr("shop")
		exp := time.Now().UTC().Add(time.Minute)
		n.Pairing = &apiws.PairingQRCode{Code: "2@abc", Image: "data:image/png;base64,xx", ExpiresAt: exp}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		got, err := db.Number(ctx, acc.ID, n.ID)
		if err != nil || *got.Label != "shop" || got.Pairing == nil || got.Pairing.Code != "2@abc" || !got.Sandbox {
			t.Fatalf("Number = %+v, %v", got, err)
		}
		if _, err := db.Number(ctx, other.ID, n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("other account reads the number: %v", err)
		}
		if err := db.DeleteNumber(ctx, other.ID, n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("other account deletes the number: %v", err)
		}
		if err := db.DeleteNumber(ctx, acc.ID, n.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.NumberByID(ctx, n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("deleted number still there: %v", err)
		}
	})
}

func TestOnePairingNumberPerAccount(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "p1@example.com")
		other := mustAccount(t, db, "p2@example.com")
		first := newNumber(acc.ID, apiws.NumberPairing)
		if err := db.CreateNumber(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateNumber(ctx, newNumber(acc.ID, apiws.NumberPairing)); apiws.ErrorCodeOf(err) != apiws.ECONFLICT {
			t.Fatalf("second pairing = %v; want CONFLICT", err)
		}
		if err := db.CreateNumber(ctx, newNumber(other.ID, apiws.NumberPairing)); err != nil {
			t.Fatalf("another account's pairing: %v", err)
		}
		done := newNumber(acc.ID, apiws.NumberLoggedOut)
		if err := db.CreateNumber(ctx, done); err != nil {
			t.Fatal(err)
		}
		_, _, err := db.ChangeNumber(ctx, done.ID, func(n *apiws.Number) bool {
			n.Status = apiws.NumberPairing
			return true
		})
		if apiws.ErrorCodeOf(err) != apiws.ECONFLICT {
			t.Fatalf("moving a second number to PAIRING = %v; want CONFLICT", err)
		}

		// A pairing whose instance died stops blocking once it is stale.
		if n, err := db.AbandonStalePairings(ctx, acc.ID, time.Now().UTC().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("fresh pairing abandoned: %d, %v", n, err)
		}
		if n, err := db.AbandonStalePairings(ctx, acc.ID, time.Now().UTC().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("AbandonStalePairings = %d, %v; want 1", n, err)
		}
		got, _ := db.Number(ctx, acc.ID, first.ID)
		if got.Status != apiws.NumberLoggedOut {
			t.Fatalf("abandoned pairing is %s", got.Status)
		}
		if err := db.CreateNumber(ctx, newNumber(acc.ID, apiws.NumberPairing)); err != nil {
			t.Fatalf("pairing after the stale one: %v", err)
		}
	})
}

func TestChangeNumberWritesOnlyChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "c1@example.com")
		n := newNumber(acc.ID, apiws.NumberConnecting)
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		at := time.Now().UTC()
		got, changed, err := db.ChangeNumber(ctx, n.ID, func(n *apiws.Number) bool {
			n.Status, n.ConnectedAt, n.Phone, n.JID = apiws.NumberConnected, &at, ptr("+15550100042"), ptr("15550100042:1@s.whatsapp.net")
			return true
		})
		if err != nil || !changed || got.Status != apiws.NumberConnected {
			t.Fatalf("ChangeNumber = %+v, %v, %v", got, changed, err)
		}
		got, changed, err = db.ChangeNumber(ctx, n.ID, func(n *apiws.Number) bool { return false })
		if err != nil || changed || got.Phone == nil || *got.Phone != "+15550100042" || !got.ConnectedAt.Equal(at.Truncate(time.Microsecond)) {
			t.Fatalf("read back %+v, %v, %v", got, changed, err)
		}
		if _, _, err := db.ChangeNumber(ctx, "num_missing", func(*apiws.Number) bool { return true }); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("missing number = %v", err)
		}
	})
}

func TestListNumbersNewestFirstWithFilterAndCursor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "l1@example.com")
		other := mustAccount(t, db, "l2@example.com")
		var ids []string
		for i, st := range []apiws.NumberStatus{apiws.NumberConnected, apiws.NumberDisconnected, apiws.NumberConnected} {
			n := newNumber(acc.ID, st)
			if i == 0 {
				n.JID = ptr("15550100042:1@s.whatsapp.net")
			}
			if err := db.CreateNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, n.ID)
		}
		if err := db.CreateNumber(ctx, newNumber(other.ID, apiws.NumberConnected)); err != nil {
			t.Fatal(err)
		}
		all, total, err := db.ListNumbers(ctx, acc.ID, nil, 2, "")
		if err != nil || total != 3 || len(all) != 2 || all[0].ID != ids[2] || all[1].ID != ids[1] {
			t.Fatalf("page 1 = %v (total %d), %v", all, total, err)
		}
		rest, _, err := db.ListNumbers(ctx, acc.ID, nil, 2, all[1].ID)
		if err != nil || len(rest) != 1 || rest[0].ID != ids[0] {
			t.Fatalf("page 2 = %v, %v", rest, err)
		}
		connected, total, err := db.ListNumbers(ctx, acc.ID, []apiws.NumberStatus{apiws.NumberConnected}, 10, "")
		if err != nil || total != 2 || len(connected) != 2 {
			t.Fatalf("CONNECTED = %v (total %d), %v", connected, total, err)
		}
		paired, err := db.PairedNumbers(ctx)
		if err != nil || len(paired) != 1 || paired[0].ID != ids[0] {
			t.Fatalf("PairedNumbers = %v, %v", paired, err)
		}
	})
}

// TestPairedNumbersKeepTemporarilyBannedOnes: a number under a temporary
// ban keeps its lease (its owner reconnects it when the ban ends, also
// after a restart), so it counts as paired; one banned for good, or paired
// numbers logged out, do not.
func TestPairedNumbersKeepTemporarilyBannedOnes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "ban@example.com")
		until := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond)
		mk := func(status apiws.NumberStatus, banEnds *time.Time) string {
			n := newNumber(acc.ID, status)
			n.JID, n.BanExpiresAt = ptr(apiws.NewID("jid")+"@s.whatsapp.net"), banEnds
			if err := db.CreateNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
			return n.ID
		}
		temporary := mk(apiws.NumberBanned, &until)
		mk(apiws.NumberBanned, nil)
		mk(apiws.NumberLoggedOut, nil)
		connected := mk(apiws.NumberConnected, nil)
		paired, err := db.PairedNumbers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range paired {
			ids = append(ids, n.ID)
		}
		if len(ids) != 2 || ids[0] != temporary || ids[1] != connected {
			t.Fatalf("PairedNumbers = %v, want %v", ids, []string{temporary, connected})
		}
		if got := paired[0].BanExpiresAt; got == nil || !got.Equal(until) {
			t.Errorf("ban expiry read back %v, want %v", got, until)
		}
	})
}
