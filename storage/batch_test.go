package storage_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// One batch of two accounts: sends (one reusing a key taken in the same
// batch), an acceptance and receipts, including one for a message of
// another number with the same WhatsApp id, which it must not touch.
func TestWriteBatch(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "batch-a@example.com")
		b := mustAccount(t, db, "batch-b@example.com")
		first := queued(a, "num_a", "WA1", nil)
		other := queued(b, "num_b", "WA1", nil) // same WhatsApp id, another number
		for _, m := range []*apiws.Message{first, other} {
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.NextOutbox(ctx, "num_a", 10)
		if err != nil || len(items) != 1 {
			t.Fatalf("outbox = %v, %v", items, err)
		}

		key := "k1"
		keyed, dup, plain := queued(a, "num_a", "WA2", &key), queued(a, "num_a", "WA3", &key), queued(b, "num_b", "WA4", nil)
		qs := []*storage.QueueWrite{{Message: keyed, Sealed: []byte("1")}, {Message: dup, Sealed: []byte("2")}, {Message: plain, Sealed: []byte("3")}}
		sent := &storage.SentWrite{Items: items, At: time.Now().UTC()}
		delivered := &storage.ReceiptWrite{NumberID: "num_a", WAIDs: []string{"WA1", "WA-unknown"}, Status: apiws.StatusDelivered, At: time.Now().UTC()}
		read := &storage.ReceiptWrite{NumberID: "num_a", WAIDs: []string{"WA1"}, Status: apiws.StatusRead, At: time.Now().UTC()}
		failed := &storage.ReceiptWrite{NumberID: "num_b", WAIDs: []string{"WA1"}, Status: apiws.StatusFailed,
			Error: &apiws.MessageError{Code: "X", Message: "refused"}, At: time.Now().UTC()}
		evs, err := db.Write(ctx, &storage.Batch{Queue: qs, Sent: []*storage.SentWrite{sent}, Receipts: []*storage.ReceiptWrite{delivered, read, failed}})
		if err != nil {
			t.Fatal(err)
		}
		if qs[0].Err != nil || qs[0].Event == nil || !errors.Is(qs[1].Err, storage.ErrDuplicate) || qs[1].Event != nil || qs[2].Err != nil {
			t.Fatalf("queue results: %v %v %v", qs[0].Err, qs[1].Err, qs[2].Err)
		}
		if _, err := db.Message(ctx, a.ID, dup.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("the duplicate was written: %v", err)
		}
		if g := statuses(sent.Events); !slices.Equal(g, []apiws.MessageStatus{apiws.StatusSent}) {
			t.Fatalf("sent events = %v", g)
		}
		if len(delivered.Events) != 1 || len(read.Events) != 1 || len(failed.Events) != 1 {
			t.Fatalf("receipt events = %d, %d, %d", len(delivered.Events), len(read.Events), len(failed.Events))
		}

		// Per account: consecutive cursors in the order given, continuing
		// the log.
		want := map[string][]apiws.MessageStatus{
			a.ID: {apiws.StatusQueued, apiws.StatusSent, apiws.StatusDelivered, apiws.StatusRead},
			b.ID: {apiws.StatusQueued, apiws.StatusFailed},
		}
		for acc, w := range want {
			var got []*apiws.LogEvent
			for _, ev := range evs {
				if ev.AccountID == acc {
					got = append(got, ev)
				}
			}
			if g := statuses(got); !slices.Equal(g, w) {
				t.Fatalf("events of %s = %v; want %v", acc, g, w)
			}
			for i, ev := range got {
				if ev.Seq != int64(i+2) {
					t.Fatalf("event %d of %s has cursor %d; want %d", i, acc, ev.Seq, i+2)
				}
			}
			logged, _ := db.EventsAfter(ctx, acc, 1, "", 10)
			if g := statuses(logged); !slices.Equal(g, w) {
				t.Fatalf("logged events of %s = %v; want %v", acc, g, w)
			}
		}

		m, _ := db.Message(ctx, a.ID, first.ID)
		if m.Status != apiws.StatusRead || m.SentAt == nil || m.DeliveredAt == nil || m.ReadAt == nil || m.Error != nil {
			t.Fatalf("first = %+v", m)
		}
		o, _ := db.Message(ctx, b.ID, other.ID)
		if o.Status != apiws.StatusFailed || o.FailedAt == nil || o.Error == nil || o.Error.Code != "X" || o.SentAt != nil {
			t.Fatalf("other = %+v", o)
		}
		if left, _ := db.NextOutbox(ctx, "num_a", 10); len(left) != 1 || left[0].MessageID != keyed.ID {
			t.Fatalf("outbox of num_a = %v; want only the new keyed message", left)
		}
	})
}

// A batch that fails as a whole writes nothing and leaves no results.
func TestWriteBatchFailsWhole(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "batch-fail@example.com")
		good := queued(a, "num_a", "WA1", nil)
		orphan := queued(a, "num_a", "WA2", nil)
		orphan.AccountID = "acc_missing" // no such account: its message (SQLite) or its event counter (PostgreSQL) has no key
		qs := []*storage.QueueWrite{{Message: good, Sealed: []byte("1")}, {Message: orphan, Sealed: []byte("2")}}
		if _, err := db.Write(ctx, &storage.Batch{Queue: qs}); err == nil {
			t.Fatal("a batch with a message of no account was written")
		}
		if qs[0].Event != nil || qs[0].Err != nil {
			t.Fatalf("results left after a rollback: %+v", qs[0])
		}
		if _, err := db.Message(ctx, a.ID, good.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("part of a failed batch was written: %v", err)
		}
		if last, _ := db.LastEventSeq(ctx, a.ID); last != 0 {
			t.Fatalf("cursor moved to %d", last)
		}
	})
}

func TestSandboxTransmissionDuplicates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for _, msg := range []string{"m1", "m2", "m1"} {
			err := db.RecordSandboxTransmission(ctx, &storage.SandboxTransmission{NumberID: "n", MessageID: msg, Recipient: "+15550100001",
				Kind: "TEXT", At: time.Now().UTC(), Instance: "i"})
			if err != nil {
				t.Fatal(err)
			}
		}
		ts, err := db.SandboxTransmissions(ctx)
		if err != nil || len(ts) != 3 {
			t.Fatalf("%d transmissions, %v", len(ts), err)
		}
		if ts[0].Duplicate || ts[1].Duplicate || !ts[2].Duplicate {
			t.Fatalf("duplicates = %v %v %v; want only the second m1", ts[0].Duplicate, ts[1].Duplicate, ts[2].Duplicate)
		}
	})
}

// TestSandboxRecordsOfConcurrentSends: records made at once (written in
// groups) are each written exactly once, and a message id recorded twice
// is a duplicate once, whether in one group or two.
func TestSandboxRecordsOfConcurrentSends(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		const senders, each = 8, 25
		before := db.Statements()
		var wg sync.WaitGroup
		errs := make(chan error, senders*each)
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					msg := fmt.Sprintf("m%d-%d", s, i)
					if s == 1 && i == 0 {
						msg = "m0-0" // sent by two senders
					}
					errs <- db.RecordSandboxTransmission(ctx, &storage.SandboxTransmission{NumberID: fmt.Sprint(s), MessageID: msg,
						Recipient: "+15550100001", Kind: "TEXT", At: time.Now().UTC(), Instance: "i"})
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		statements := db.Statements() - before
		ts, err := db.SandboxTransmissions(ctx)
		if err != nil || len(ts) != senders*each {
			t.Fatalf("%d records of %d, %v", len(ts), senders*each, err)
		}
		per := map[string]int{}
		duplicates := 0
		for _, tr := range ts {
			per[tr.MessageID]++
			if tr.Duplicate {
				duplicates++
			}
		}
		if len(per) != senders*each-1 || per["m0-0"] != 2 || duplicates != 1 {
			t.Fatalf("%d ids, m0-0 %d times, %d duplicates; want %d, 2, 1", len(per), per["m0-0"], duplicates, senders*each-1)
		}
		t.Logf("%d records in %d statements", len(ts), statements)
	})
}

// TestSandboxRecordsOfTwoInstances: instances recording the same message
// ids at once, each through its own connections, leave exactly one first
// transmission of each id, whichever wrote it.
func TestSandboxRecordsOfTwoInstances(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dbs := storagetest.Instances(t, d, 2)
			const ids, senders = 40, 4 // senders per instance, each sending every id
			var wg sync.WaitGroup
			errs := make(chan error, len(dbs)*senders*ids)
			for i, db := range dbs {
				for s := range senders {
					wg.Go(func() {
						for m := range ids {
							errs <- db.RecordSandboxTransmission(ctx, &storage.SandboxTransmission{NumberID: fmt.Sprintf("n%d-%d", i, s),
								MessageID: fmt.Sprintf("m%d", m), Recipient: "+15550100001", Kind: "TEXT", At: time.Now().UTC(), Instance: fmt.Sprint(i)})
						}
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			firsts := firstTransmissions(t, dbs[1], len(dbs)*senders*ids)
			for m := range ids {
				if n := firsts[fmt.Sprintf("m%d", m)]; n != 1 {
					t.Fatalf("m%d has %d first transmissions; want 1", m, n)
				}
			}
		})
	}
}

// TestSandboxGroupsInOppositeOrders: two instances writing groups of the
// same message ids at once, in opposite orders, neither deadlock (which
// would lose a group) nor record an id's first transmission twice.
func TestSandboxGroupsInOppositeOrders(t *testing.T) {
	for _, d := range storagetest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			dbs := storagetest.Instances(t, d, 2)
			const rounds, size = 40, 8
			for round := range rounds {
				start := make(chan struct{})
				errs := make(chan error, len(dbs))
				for i, db := range dbs {
					group := make([]*storage.SandboxTransmission, size)
					for k := range group {
						id := k
						if i == 1 {
							id = size - 1 - k
						}
						group[k] = &storage.SandboxTransmission{NumberID: fmt.Sprint(i), MessageID: fmt.Sprintf("r%d-m%d", round, id),
							Recipient: "+15550100001", Kind: "TEXT", At: time.Now().UTC(), Instance: fmt.Sprint(i)}
					}
					go func() {
						<-start
						errs <- db.RecordSandboxGroup(ctx, group)
					}()
				}
				close(start)
				for range dbs {
					if err := <-errs; err != nil {
						t.Fatalf("round %d: %v", round, err)
					}
				}
			}
			firsts := firstTransmissions(t, dbs[0], len(dbs)*rounds*size)
			if len(firsts) != rounds*size {
				t.Fatalf("%d ids with a first transmission; want %d", len(firsts), rounds*size)
			}
			for id, n := range firsts {
				if n != 1 {
					t.Fatalf("%s has %d first transmissions; want 1", id, n)
				}
			}
		})
	}
}

// firstTransmissions reads the sandbox's record, checks it holds want
// records, and counts each message id's first transmissions.
func firstTransmissions(t *testing.T, db *storage.DB, want int) map[string]int {
	t.Helper()
	ts, err := db.SandboxTransmissions(context.Background())
	if err != nil || len(ts) != want {
		t.Fatalf("%d records of %d, %v", len(ts), want, err)
	}
	firsts := map[string]int{}
	for _, tr := range ts {
		if !tr.Duplicate {
			firsts[tr.MessageID]++
		}
	}
	return firsts
}

func TestCheckSend(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "check-a@example.com")
		b := mustAccount(t, db, "check-b@example.com")
		now := time.Now().UTC()
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: a.ID, Sandbox: true, Status: apiws.NumberConnected, CreatedAt: now}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		c, err := db.CheckSend(ctx, a.ID, n.ID)
		if err != nil || c.AccountStatus != apiws.AccountActive || c.Restricted || c.NumberStatus == nil || *c.NumberStatus != apiws.NumberConnected {
			t.Fatalf("own number: %+v, %v", c, err)
		}
		if c, err := db.CheckSend(ctx, b.ID, n.ID); err != nil || c.NumberStatus != nil {
			t.Fatalf("another account's number: %+v, %v; want no number", c, err)
		}
		if _, err := db.CheckSend(ctx, "acc_missing", n.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("missing account: %v", err)
		}
	})
}

// The sandbox's record does not wait for the WAL flush on PostgreSQL; the
// rest of apiws does.
func TestRelaxedPoolOnlyForTheSandbox(t *testing.T) {
	db := storagetest.Open(t, storage.Postgres)
	ctx := context.Background()
	var main, relaxed string
	if err := db.Bun.NewRaw("SHOW synchronous_commit").Scan(ctx, &main); err != nil {
		t.Fatal(err)
	}
	if err := db.Relaxed().NewRaw("SHOW synchronous_commit").Scan(ctx, &relaxed); err != nil {
		t.Fatal(err)
	}
	if main != "on" || relaxed != "off" {
		t.Fatalf("synchronous_commit: %q for apiws, %q for the sandbox's record; want on and off", main, relaxed)
	}
}

// TestNoContentKeptForAMessageDeliveredBeforeItsAcceptance: when a
// message's DELIVERED receipt commits before the batch that records its
// acceptance, the content that batch would keep for retry receipts is not
// written (the recipient has the message).
func TestNoContentKeptForAMessageDeliveredBeforeItsAcceptance(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := mustAccount(t, db, "transit-race@example.com")
		early, late := queued(a, "num_a", "WA1", nil), queued(a, "num_a", "WA2", nil)
		for _, m := range []*apiws.Message{early, late} {
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
		}
		items, err := db.NextOutbox(ctx, "num_a", 10)
		if err != nil || len(items) != 2 {
			t.Fatalf("outbox = %v, %v", items, err)
		}
		now := time.Now().UTC()
		if _, err := db.Write(ctx, &storage.Batch{Receipts: []*storage.ReceiptWrite{{NumberID: "num_a", WAIDs: []string{"WA1"}, Status: apiws.StatusDelivered, At: now}}}); err != nil {
			t.Fatal(err)
		}
		var retain []*storage.Transit
		for _, m := range []*apiws.Message{early, late} {
			retain = append(retain, &storage.Transit{MessageID: m.ID, NumberID: "num_a", WAMessageID: *m.WAMessageID, Content: []byte("as sent"), ExpiresAt: now.Add(time.Hour)})
		}
		if _, err := db.Write(ctx, &storage.Batch{Sent: []*storage.SentWrite{{Items: items, At: now, Retain: retain}}}); err != nil {
			t.Fatal(err)
		}
		if c, err := db.RetainedContent(ctx, "num_a", "WA1", now); err != nil || c != nil {
			t.Errorf("content of the message delivered before its acceptance: %v, %v; want none", c, err)
		}
		if c, err := db.RetainedContent(ctx, "num_a", "WA2", now); err != nil || c == nil {
			t.Errorf("content of the message only sent: %v, %v; want it kept", c, err)
		}
	})
}

// A guarded send is written only if its account is active and unrestricted
// and its number the account's and connected, read in the write's
// transaction; the others of its batch are written all the same.
func TestGuardedSends(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc := mustAccount(t, db, "guard@example.com")
		restricted := mustAccount(t, db, "guard-restricted@example.com")
		pending := mustAccount(t, db, "guard-pending@example.com")
		restricted.ProcessingRestricted, pending.Status = true, apiws.AccountPendingDeletion
		for _, a := range []*apiws.Account{restricted, pending} {
			if err := db.UpdateAccountState(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		number := func(a *apiws.Account, status apiws.NumberStatus) string {
			n := newNumber(a.ID, status)
			if err := db.CreateNumber(ctx, n); err != nil {
				t.Fatal(err)
			}
			return n.ID
		}
		other := mustAccount(t, db, "guard-other@example.com")
		on, off, othersOn := number(acc, apiws.NumberConnected), number(acc, apiws.NumberDisconnected), number(other, apiws.NumberConnected)
		restrictedOn, pendingOn := number(restricted, apiws.NumberConnected), number(pending, apiws.NumberConnected)
		key := "k"
		taken := queued(acc, on, "WA0", &key)
		if _, err := db.QueueMessage(ctx, taken, []byte("s")); err != nil {
			t.Fatal(err)
		}

		cases := []struct {
			name  string
			m     *apiws.Message
			guard bool
			want  error
		}{
			{"connected", queued(acc, on, "WA1", nil), true, nil},
			{"connected again", queued(acc, on, "WA2", nil), true, nil},
			{"disconnected", queued(acc, off, "WA3", nil), true, storage.ErrRefused},
			{"another account's number", queued(acc, othersOn, "WA4", nil), true, storage.ErrRefused},
			{"a restricted account through another's number", queued(restricted, on, "WA10", nil), true, storage.ErrRefused},
			{"no such number", queued(acc, "num_missing", "WA5", nil), true, storage.ErrRefused},
			{"restricted account", queued(restricted, restrictedOn, "WA6", nil), true, storage.ErrRefused},
			{"account pending deletion", queued(pending, pendingOn, "WA7", nil), true, storage.ErrRefused},
			{"key taken", queued(acc, on, "WA8", &key), true, storage.ErrDuplicate},
			{"disconnected, not guarded", queued(acc, off, "WA9", nil), false, nil},
		}
		var qs []*storage.QueueWrite
		for _, c := range cases {
			qs = append(qs, &storage.QueueWrite{Message: c.m, Sealed: []byte(c.name), Guard: c.guard})
		}
		evs, err := db.Write(ctx, &storage.Batch{Queue: qs})
		if err != nil {
			t.Fatal(err)
		}
		written := 0
		for i, c := range cases {
			q := qs[i]
			if !errors.Is(q.Err, c.want) || (c.want == nil) != (q.Err == nil) {
				t.Errorf("%s: err %v; want %v", c.name, q.Err, c.want)
			}
			_, err := db.Message(ctx, c.m.AccountID, c.m.ID)
			if got := err == nil; got != (c.want == nil) {
				t.Errorf("%s: written %v; want %v (%v)", c.name, got, c.want == nil, err)
			}
			if (q.Event != nil) != (c.want == nil) {
				t.Errorf("%s: event %v", c.name, q.Event)
			}
			if c.want == nil {
				written++
			}
		}
		if len(evs) != written {
			t.Errorf("%d events; want one per message written (%d)", len(evs), written)
		}
		items, err := db.NextOutbox(ctx, on, 10)
		if err != nil || len(items) != 3 { // taken, connected, connected again
			t.Errorf("outbox of the connected number: %d items, %v; want 3", len(items), err)
		}
	})
}

// TestSimpleProtocolConnections: with connections that take no prepared
// statements (default_query_exec_mode=simple_protocol, as behind a
// transaction pooler; no statement cache at all), the statements apiws
// otherwise prepares run with their values in their text: the sandbox's
// record, the hot reads, a journal batch.
func TestSimpleProtocolConnections(t *testing.T) {
	ctx := context.Background()
	u, err := url.Parse(storagetest.URL(t, storage.Postgres))
	if err != nil {
		t.Fatal(err)
	}
	params := u.Query()
	params.Set("default_query_exec_mode", "simple_protocol")
	params.Set("statement_cache_capacity", "0")
	u.RawQuery = params.Encode()
	db, err := storage.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"m1", "m2", "m1"} {
		if err := db.RecordSandboxTransmission(ctx, &storage.SandboxTransmission{NumberID: "n", MessageID: msg, Recipient: "+15550100001",
			Kind: "TEXT", At: time.Now().UTC(), Instance: "i"}); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := db.SandboxTransmissions(ctx)
	if err != nil || len(ts) != 3 || ts[0].Duplicate || ts[1].Duplicate || !ts[2].Duplicate {
		t.Fatalf("records %+v, %v; want the second m1 alone a duplicate", ts, err)
	}
	if db.Lookups() != db.SQL() {
		t.Error("the hot reads have connections of their own, with settings a pooler may refuse")
	}
	if held, err := db.LeaseHeld(ctx, "num_none", "inst", 1, time.Now()); err != nil || held {
		t.Fatalf("LeaseHeld = %v, %v", held, err)
	}
	acc := mustAccount(t, db, "simple@example.com")
	n := newNumber(acc.ID, apiws.NumberConnected)
	if err := db.CreateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	q := &storage.QueueWrite{Message: queued(acc, n.ID, "WA1", nil), Sealed: []byte("s"), Guard: true}
	if _, err := db.Write(ctx, &storage.Batch{Queue: []*storage.QueueWrite{q}}); err != nil || q.Err != nil {
		t.Fatalf("queue write: %v, %v", err, q.Err)
	}
}
