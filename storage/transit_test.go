package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestPollContentOutlivesDelivery: a poll's transit content stays after
// its delivery receipt (votes are named by it) and goes at its time; a
// text's goes at the receipt.
func TestPollContentOutlivesDelivery(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "polls@example.com")
		text, poll, early := queued(acc, "num_a", "WA1", nil), queued(acc, "num_a", "WA2", nil), queued(acc, "num_a", "WA3", nil)
		poll.Kind, early.Kind = apiws.KindPoll, apiws.KindPoll
		for _, m := range []*apiws.Message{text, poll, early} {
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.NextOutbox(ctx, "num_a", 10)
		if err != nil || len(items) != 3 {
			t.Fatalf("outbox = %v, %v", items, err)
		}
		now := time.Now().UTC()
		// The third is delivered before its acceptance is recorded.
		if _, err := db.Write(ctx, &storage.Batch{Receipts: []*storage.ReceiptWrite{{NumberID: "num_a", WAIDs: []string{"WA3"}, Status: apiws.StatusDelivered, At: now}}}); err != nil {
			t.Fatal(err)
		}
		var retain []*storage.Transit
		for _, m := range []*apiws.Message{text, poll, early} {
			retain = append(retain, &storage.Transit{MessageID: m.ID, NumberID: "num_a", WAMessageID: *m.WAMessageID, Content: []byte("as sent"), ExpiresAt: now.Add(time.Hour)})
		}
		if _, err := db.Write(ctx, &storage.Batch{Sent: []*storage.SentWrite{{Items: items, At: now, Retain: retain}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write(ctx, &storage.Batch{Receipts: []*storage.ReceiptWrite{{NumberID: "num_a", WAIDs: []string{"WA1", "WA2"}, Status: apiws.StatusRead, At: now}}}); err != nil {
			t.Fatal(err)
		}
		for wa, kept := range map[string]bool{"WA1": false, "WA2": true, "WA3": true} {
			if c, err := db.RetainedContent(ctx, "num_a", wa, now); err != nil || (c != nil) != kept {
				t.Errorf("content of %s after its receipt: %v, %v; want kept %v", wa, c, err, kept)
			}
		}
		if n, err := db.DeleteExpiredTransit(ctx, now.Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("DeleteExpiredTransit = %d, %v; want the 2 polls'", n, err)
		}
	})
}

// A batch's receipts name messages by number and WhatsApp id together: a
// receipt of one number for an id another number sent moves nothing and
// drops no content, in the same batch as a receipt that does.
func TestReceiptsNameNumberAndIDTogether(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "pairs@example.com")
		a, b := queued(acc, "num_a", "WA1", nil), queued(acc, "num_b", "WA2", nil)
		now := time.Now().UTC()
		for _, m := range []*apiws.Message{a, b} {
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			items, err := db.NextOutbox(ctx, m.NumberID, 10)
			if err != nil || len(items) != 1 {
				t.Fatalf("outbox of %s = %v, %v", m.NumberID, items, err)
			}
			retain := []*storage.Transit{{MessageID: m.ID, NumberID: m.NumberID, WAMessageID: *m.WAMessageID, Content: []byte("as sent"), ExpiresAt: now.Add(time.Hour)}}
			if _, err := db.Write(ctx, &storage.Batch{Sent: []*storage.SentWrite{{Items: items, At: now, Retain: retain}}}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := db.Write(ctx, &storage.Batch{Receipts: []*storage.ReceiptWrite{
			{NumberID: "num_a", WAIDs: []string{"WA2"}, Status: apiws.StatusDelivered, At: now},
			{NumberID: "num_b", WAIDs: []string{"WA1"}, Status: apiws.StatusDelivered, At: now},
			{NumberID: "num_b", WAIDs: []string{"WA2"}, Status: apiws.StatusRead, At: now},
		}})
		if err != nil {
			t.Fatal(err)
		}
		var moved []string
		for _, ev := range evs {
			moved = append(moved, ev.MessageID+" "+string(ev.Status))
		}
		if want := []string{b.ID + " READ"}; !slices.Equal(moved, want) {
			t.Errorf("events %q; want %q", moved, want)
		}
		for _, c := range []struct {
			number, wa string
			kept       bool
		}{{"num_a", "WA1", true}, {"num_b", "WA2", false}} {
			if held, err := db.RetainedContent(ctx, c.number, c.wa, now); err != nil || (held != nil) != c.kept {
				t.Errorf("content of %s/%s: %v, %v; want kept %v", c.number, c.wa, held, err, c.kept)
			}
		}
	})
}
