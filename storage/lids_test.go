package storage_test

import (
	"context"
	"testing"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestFillHiddenPeers: the phone learned for a LID goes to the number's
// messages with that LID and no phone, and nowhere else.
func TestFillHiddenPeers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "lids@example.com")
		hidden := func(numberID, waID, lid string) *apiws.Message {
			m := inbound(acc, numberID, waID)
			m.Peer, m.PeerLID = "", &lid
			return m
		}
		known := inbound(acc, "num_a", "WA4")
		known.PeerLID = ptr("100014155552671")
		ms := []*apiws.Message{
			hidden("num_a", "WA1", "100014155552671"),
			hidden("num_a", "WA2", "100014155552671"),
			hidden("num_a", "WA3", "100019999999999"), // another person
			known, // keeps the phone it came with
			hidden("num_b", "WA1", "100014155552671"), // another number's
		}
		for _, m := range ms {
			if _, err := db.InsertInbound(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
		// A reply queued to the hidden sender is theirs too.
		out := queued(acc, "num_a", "WA5", nil)
		out.Peer, out.PeerLID = "", ptr("100014155552671")
		if _, err := db.QueueMessage(ctx, out, []byte("sealed")); err != nil {
			t.Fatal(err)
		}

		n, err := db.FillHiddenPeers(ctx, "num_a", "100014155552671", "+14155552671")
		if err != nil || n != 3 {
			t.Fatalf("FillHiddenPeers = %d, %v; want 3", n, err)
		}
		ids := []string{ms[0].ID, ms[1].ID, ms[2].ID, ms[3].ID, ms[4].ID, out.ID}
		got, err := db.MessagesByIDs(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		peers := map[string]string{}
		for _, m := range got {
			peers[m.ID] = m.Peer
		}
		want := map[string]string{ms[0].ID: "+14155552671", ms[1].ID: "+14155552671", ms[2].ID: "", ms[3].ID: "+15550100001", ms[4].ID: "", out.ID: "+14155552671"}
		for id, p := range want {
			if peers[id] != p {
				t.Errorf("peer of %s = %q, want %q", id, peers[id], p)
			}
		}
		if n, err := db.FillHiddenPeers(ctx, "num_a", "100014155552671", "+14155552671"); err != nil || n != 0 {
			t.Errorf("again = %d, %v; want nothing left to fill", n, err)
		}
	})
}
