package messaging

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// Concurrent writes share transactions; one that cannot be written (its
// account does not exist) fails alone, and the rest are committed (each
// seen committed before its writer is answered) and
// published in cursor order (an account's writes share one committer),
// each cursor once.
func TestJournalGroupCommit(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Now().UTC()
		acc := storagetest.Account(t, db)
		var mu sync.Mutex
		var published []*apiws.LogEvent
		committed := map[string]bool{} // message ids whose event was seen committed
		j := newJournal(ctx, db, 3, func(evs []*apiws.LogEvent) {
			mu.Lock()
			for _, ev := range evs {
				committed[ev.MessageID] = true
			}
			mu.Unlock()
		}, func(evs []*apiws.LogEvent) {
			mu.Lock()
			published = append(published, evs...)
			mu.Unlock()
		})
		const n = 60
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: "num_1", Direction: apiws.Outbound,
					Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
				if i == n/2 {
					m.AccountID = "acc_missing"
				}
				errs[i] = j.write(&journalReq{account: m.AccountID, queue: []*storage.QueueWrite{{Message: m, Sealed: []byte("x")}}})
				// A writer is answered only once its events were seen
				// committed (the usage counts a send before the next
				// send's quota check).
				mu.Lock()
				seen := committed[m.ID]
				mu.Unlock()
				if errs[i] == nil && !seen {
					t.Errorf("write %d answered before its event was seen committed", i)
				}
			}()
		}
		wg.Wait()
		j.close()
		for i, err := range errs {
			if (err != nil) != (i == n/2) {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		if len(published) != n-1 {
			t.Fatalf("%d events published; want %d", len(published), n-1)
		}
		for i, ev := range published {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d published with cursor %d: out of order, a gap or a duplicate", i, ev.Seq)
			}
		}
		if last, _ := db.LastEventSeq(ctx, acc); last != n-1 {
			t.Fatalf("LastEventSeq = %d", last)
		}
		// After close, a write is committed alone and still published.
		m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: acc, NumberID: "num_1", Direction: apiws.Outbound,
			Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
		if err := j.write(&journalReq{account: m.AccountID, queue: []*storage.QueueWrite{{Message: m, Sealed: []byte("x")}}}); err != nil {
			t.Fatal(err)
		}
		if len(published) != n || published[n-1].Seq != n {
			t.Fatalf("write after close: %d events published", len(published))
		}
	})
}
