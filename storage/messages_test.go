package storage_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func queued(acc *apiws.Account, numberID, waID string, key *string) *apiws.Message {
	now := time.Now().UTC()
	return &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc.ID, NumberID: numberID, Direction: apiws.Outbound,
		Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, WAMessageID: &waID, QueuedAt: &now, IdempotencyKey: key}
}

func statuses(evs []*apiws.LogEvent) []apiws.MessageStatus {
	var out []apiws.MessageStatus
	for _, e := range evs {
		out = append(out, e.Status)
	}
	return out
}

func TestMessageLifecycle(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("msgs@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		key := "order-1"
		m := queued(acc, "num_1", "WA1", &key)
		ev, err := db.QueueMessage(ctx, m, []byte("sealed"))
		if err != nil || ev.Seq != 1 {
			t.Fatalf("QueueMessage = %+v, %v", ev, err)
		}
		if _, err := db.QueueMessage(ctx, queued(acc, "num_1", "WA2", &key), []byte("x")); !errors.Is(err, storage.ErrDuplicate) {
			t.Fatalf("reused key: %v", err)
		}
		items, _ := db.NextOutbox(ctx, "num_1", 10)
		if len(items) != 1 || items[0].MessageID != m.ID {
			t.Fatalf("outbox after a refused duplicate = %+v", items)
		}

		// A DELIVERED receipt before the acceptance is recorded: SENT first.
		evs, err := db.ApplyReceipt(ctx, "num_1", []string{"WA1"}, apiws.StatusDelivered, nil, time.Now())
		if err != nil || len(evs) != 2 || evs[0].Status != apiws.StatusSent || evs[1].Status != apiws.StatusDelivered {
			t.Fatalf("early receipt = %v, %v", statuses(evs), err)
		}
		evs, _ = db.MarkSent(ctx, items[0], time.Now(), "", time.Time{})
		if len(evs) != 0 {
			t.Fatalf("late SENT moved the message back: %v", statuses(evs))
		}
		if items, _ := db.NextOutbox(ctx, "num_1", 10); len(items) != 0 {
			t.Fatal("content still in the outbox after SENT")
		}
		db.ApplyReceipt(ctx, "num_1", []string{"WA1"}, apiws.StatusRead, nil, time.Now())
		if evs, _ := db.ApplyReceipt(ctx, "num_1", []string{"WA1"}, apiws.StatusDelivered, nil, time.Now()); len(evs) != 0 {
			t.Fatal("a late DELIVERED undid READ")
		}
		got, _ := db.Message(ctx, acc.ID, m.ID)
		if got.Status != apiws.StatusRead || got.SentAt == nil || got.DeliveredAt == nil || got.ReadAt == nil {
			t.Fatalf("message = %+v", got)
		}
		all, _ := db.EventsOfMessages(ctx, []string{m.ID})
		want := []apiws.MessageStatus{apiws.StatusQueued, apiws.StatusSent, apiws.StatusDelivered, apiws.StatusRead}
		if g := statuses(all); len(g) != len(want) || g[3] != apiws.StatusRead {
			t.Fatalf("events = %v; want %v", g, want)
		}
		for i, e := range all {
			if e.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, e.Seq)
			}
		}
		if _, err := db.Message(ctx, "acc_other", m.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatal("another account reads the message")
		}
	})
}

// Cursors of one account are handed out in commit order even when many
// transactions append at once.
func TestEventSequenceUnderConcurrency(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("seq@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := db.QueueMessage(ctx, queued(acc, "num_1", apiws.NewID("wa"), nil), []byte("x")); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		evs, err := db.EventsAfter(ctx, acc.ID, 0, "", 100)
		if err != nil || len(evs) != 40 {
			t.Fatalf("%d events, %v", len(evs), err)
		}
		for i, e := range evs {
			if e.Seq != int64(i+1) {
				t.Fatalf("seq %d at %d: gap or duplicate", e.Seq, i)
			}
		}
		if last, _ := db.LastEventSeq(ctx, acc.ID); last != 40 {
			t.Fatalf("LastEventSeq = %d", last)
		}
	})
}

func TestUnsendableOutbox(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "unsendable@example.com")
		now := time.Now().UTC()
		live := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc.ID, Sandbox: true, Status: apiws.NumberConnected, CreatedAt: now}
		gone := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc.ID, Sandbox: true, Status: apiws.NumberLoggedOut, CreatedAt: now}
		for _, n := range []*apiws.Number{live, gone} {
			if err := db.CreateNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		fresh := queued(acc, live.ID, "WA-fresh", nil)
		stale := queued(acc, live.ID, "WA-stale", nil)
		old := now.Add(-25 * time.Hour)
		stale.QueuedAt = &old
		loggedOut := queued(acc, gone.ID, "WA-out", nil)
		removed := queued(acc, "num_removed", "WA-removed", nil)
		for _, m := range []*apiws.Message{fresh, stale, loggedOut, removed} {
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.UnsendableOutbox(ctx, now.Add(-24*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, it := range items {
			got[it.MessageID] = true
		}
		if len(got) != 3 || !got[stale.ID] || !got[loggedOut.ID] || !got[removed.ID] || got[fresh.ID] {
			t.Fatalf("unsendable = %v; want the stale, the logged-out and the removed number's", got)
		}
	})
}

func TestReplyToIsKept(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("replies@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		first := queued(acc, "num_1", "WA1", nil)
		reply := queued(acc, "num_1", "WA2", nil)
		reply.ReplyTo = &first.ID
		if _, err := db.QueueMessage(ctx, first, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write(ctx, &storage.Batch{Queue: []*storage.QueueWrite{{Message: reply, Sealed: []byte("y")}}}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Message(ctx, acc.ID, reply.ID)
		if err != nil || got.ReplyTo == nil || *got.ReplyTo != first.ID {
			t.Fatalf("Message = %+v, %v", got, err)
		}
		ms, err := db.MessagesByIDs(ctx, []string{first.ID, reply.ID})
		if err != nil || len(ms) != 2 {
			t.Fatalf("MessagesByIDs = %v, %v", ms, err)
		}
		for _, m := range ms {
			if (m.ID == first.ID) != (m.ReplyTo == nil) {
				t.Errorf("message %s replies to %v", m.ID, m.ReplyTo)
			}
		}
	})
}

// A message's first status update stays on the page its row was written
// to (a heap-only tuple: no index of messages changes), even when every
// message of the page moves at once, as a batch of receipts moves them:
// the room the table's fillfactor leaves holds a new version of each row,
// larger than the first (its times filled in). Later updates fit as well
// once PostgreSQL has pruned the versions they replace from the page, which
// it does when no older snapshot may still read them: that depends on the
// other sessions of the database, so this checks the first one only.
func TestFirstStatusUpdateStaysOnItsPage(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	acc := &apiws.Account{ID: storagetest.Account(t, db)}
	b := &storage.Batch{}
	var waIDs []string
	for i := range 200 {
		waID := fmt.Sprintf("WA%03d", i)
		waIDs = append(waIDs, waID)
		b.Queue = append(b.Queue, &storage.QueueWrite{Message: queued(acc, "num_1", waID, nil), Sealed: []byte("sealed")})
	}
	if _, err := db.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	pages := func() map[string]string {
		var rows []struct {
			ID   string `bun:"id"`
			Page string `bun:"page"`
		}
		err := db.Bun.NewRaw("SELECT id, (ctid::text::point)[0]::text AS page FROM messages WHERE account_id = ?", acc.ID).Scan(ctx, &rows)
		if err != nil || len(rows) != len(waIDs) {
			t.Fatalf("%d rows, %v", len(rows), err)
		}
		out := map[string]string{}
		for _, r := range rows {
			out[r.ID] = r.Page
		}
		return out
	}
	written := pages()
	if evs, err := db.ApplyReceipt(ctx, "num_1", waIDs, apiws.StatusDelivered, nil, time.Now()); err != nil || len(evs) != 2*len(waIDs) {
		t.Fatalf("receipts: %d events, %v", len(evs), err)
	}
	moved := 0
	for id, page := range pages() {
		if page != written[id] {
			moved++
		}
	}
	if moved > 0 {
		t.Fatalf("%d of %d messages are on another page than the one written", moved, len(waIDs))
	}
}

// The statements that look messages and events up by age or key can reach
// them through an index: an expression index serves only the expression
// it was made of, a partial index only the statements implying its
// condition.
func TestLookupsFindTheirIndexes(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	for query, index := range map[string]string{
		"SELECT t.id FROM messages t WHERE " + storage.EnteredAt + " < now()":           "messages_entered_at",
		"SELECT id FROM messages WHERE account_id = 'acc_1' AND idempotency_key = 'k1'": "messages_idempotency_key",
		"DELETE FROM log_events WHERE message_id IS NULL AND at < now()":                "log_events_unrelated_at",
	} {
		err := db.Bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
				return err
			}
			var plan []string
			if err := tx.NewRaw("EXPLAIN "+query).Scan(ctx, &plan); err != nil {
				return err
			}
			if !strings.Contains(strings.Join(plan, "\n"), index) {
				t.Errorf("%s:\n%s\nuses no %s", query, strings.Join(plan, "\n"), index)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
