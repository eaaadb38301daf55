package messaging

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// countedQuota is a quota of limit messages, spent by the QUEUED messages
// the service records.
type countedQuota struct {
	mu          sync.Mutex
	limit, used int
}

func (q *countedQuota) QuotaLeft(context.Context, string) (int, *apiws.Error, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return max(q.limit-q.used, 0), apiws.FieldError(apiws.EQUOTAEXCEEDED, []string{"input"}, "used up"), nil
}

func (q *countedQuota) CheckQuota(ctx context.Context, accountID string) error {
	if left, refusal, _ := q.QuotaLeft(ctx, accountID); left == 0 {
		return refusal
	}
	return nil
}

func (q *countedQuota) RecordMessage(_ context.Context, _ string, status apiws.MessageStatus, _ time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if status == apiws.StatusQueued {
		q.used++
	}
	return nil
}

// answers renders SendMany's results as message ids (of the given known
// ones by name, "new" otherwise) or code@field.
func answers(t *testing.T, rs []apiws.SendResult, known map[string]string) []string {
	t.Helper()
	out := make([]string, len(rs))
	for i, r := range rs {
		switch {
		case r.Err != nil && r.Message != nil:
			t.Fatalf("result %d has both a message and an error", i)
		case r.Err != nil:
			if es, ok := r.Err.(apiws.Errors); ok {
				out[i] = fieldErr(t, es[0])
			} else {
				out[i] = fieldErr(t, r.Err)
			}
		case known[r.Message.ID] != "":
			out[i] = known[r.Message.ID]
		default:
			out[i] = "new"
		}
	}
	return out
}

// TestSendManyAnswersEachAsSend: mixed good and bad inputs, keys replayed
// within a request and across requests, the quota running out in the
// middle; only the accepted inputs are queued, in one transaction, and each
// is transmitted once.
func TestSendManyAnswersEachAsSend(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		quota := &countedQuota{limit: 6}
		a.s.usage = quota
		to := "+15550100777"
		text := func(s string) apiws.SendMessage { return apiws.SendMessage{NumberID: a.n.ID, To: &to, Text: &s} }
		keyed := func(s, key string) apiws.SendMessage { in := text(s); in.IdempotencyKey = &key; return in }
		bad := text("x")
		bad.To = ptr("12345")
		stranger := text("x")
		stranger.NumberID = apiws.NewID(apiws.PrefixNumber)

		rs, err := a.s.SendMany(a.caller, []apiws.SendMessage{
			keyed("a", "k1"), bad, text("b"), keyed("a", "k1"), keyed("other", "k1"), stranger, keyed("c", "k2"),
		})
		if err != nil {
			t.Fatal(err)
		}
		known := map[string]string{}
		if rs[0].Message != nil {
			known[rs[0].Message.ID] = "first"
		}
		if rs[6].Message != nil {
			known[rs[6].Message.ID] = "k2"
		}
		want := []string{"first", "INVALID@inputs.1.to", "new", "first", "CONFLICT@inputs.4.idempotencyKey", "NOT_FOUND@inputs.5.numberId", "k2"}
		if got := answers(t, rs, known); !slices.Equal(got, want) {
			t.Fatalf("first request answered %v; want %v", got, want)
		}
		if n := a.count("messages"); n != 3 {
			t.Fatalf("%d messages after the first request; want 3", n)
		}
		queued := map[int64]bool{}
		for _, ev := range a.logged(apiws.EventTypeMessageStatus) {
			if ev.Status == apiws.StatusQueued {
				queued[ev.Seq] = true
			}
		}
		if len(queued) != 3 {
			t.Fatalf("%d QUEUED events; want 3", len(queued))
		}

		// Across requests: k2 replays; 3 of the quota's 6 are left, so the
		// fourth new input is refused, and an invalid one is refused for
		// what it is.
		rs, err = a.s.SendMany(a.caller, []apiws.SendMessage{keyed("c", "k2"), text("d"), text("e"), text("f"), text("g"), text("")})
		if err != nil {
			t.Fatal(err)
		}
		want = []string{"k2", "new", "new", "new", "QUOTA_EXCEEDED@inputs.4", "INVALID@inputs.5.text"}
		if got := answers(t, rs, known); !slices.Equal(got, want) {
			t.Fatalf("second request answered %v; want %v", got, want)
		}

		for _, n := range []int{0, apiws.MaxSendMany + 1} {
			ins := make([]apiws.SendMessage, n)
			for i := range ins {
				ins[i] = text(fmt.Sprint(i))
			}
			if rs, err := a.s.SendMany(a.caller, ins); fieldErr(t, err) != "INVALID@inputs" || rs != nil {
				t.Errorf("%d inputs: %v, %v; want INVALID at inputs", n, rs, err)
			}
		}
		if n := a.count("messages"); n != 6 {
			t.Fatalf("%d messages; want 6", n)
		}
		poll.Until(t, 10*time.Second, "6 messages SENT", func() bool {
			sent, err := db.Bun.NewSelect().Model((*apiws.Message)(nil)).Where("status = ?", apiws.StatusSent).Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return sent == 6
		})
		a.conn.mu.Lock()
		texts := map[string]int{}
		for _, m := range a.conn.sends {
			texts[m.Text]++
		}
		a.conn.mu.Unlock()
		if len(texts) != 6 || texts["a"] != 1 || texts["c"] != 1 || texts["f"] != 1 {
			t.Errorf("transmitted %v; want a, b, c, d, e, f once each", texts)
		}
	})
}

// TestSendManyQueuesInOneTransaction: the accepted inputs of a request are
// committed together, their QUEUED events at consecutive cursors.
func TestSendManyQueuesInOneTransaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		a := newActionTest(t, db)
		to := "+15550100777"
		ins := make([]apiws.SendMessage, apiws.MaxSendMany)
		for i := range ins {
			s := fmt.Sprint(i)
			ins[i] = apiws.SendMessage{NumberID: a.n.ID, To: &to, Text: &s}
		}
		rs, err := a.s.SendMany(a.caller, ins)
		if err != nil {
			t.Fatal(err)
		}
		order := map[string]int{}
		for i, r := range rs {
			if r.Err != nil || r.Message == nil {
				t.Fatalf("input %d: %v", i, r.Err)
			}
			order[r.Message.ID] = i
		}
		var cursors []int64
		for _, ev := range a.logged(apiws.EventTypeMessageStatus) {
			if ev.Status == apiws.StatusQueued {
				cursors = append(cursors, ev.Seq)
			}
		}
		if len(cursors) != len(ins) || cursors[len(cursors)-1]-cursors[0] != int64(len(ins)-1) {
			t.Fatalf("QUEUED at cursors %v; want %d consecutive ones", cursors, len(ins))
		}
	})
}

// TestSendChecksTheNumberInItsWrite: a lone text send leaves the check of
// its account and number to its write (QueueWrite.Guard), and is answered
// as when it read them first: the same errors, in the same order, nothing
// written for a refused one.
func TestSendChecksTheNumberInItsWrite(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		a := newActionTest(t, db)
		quota := &countedQuota{limit: 1000}
		a.s.usage = quota
		setLimit := func(n int) { quota.mu.Lock(); quota.limit = n; quota.mu.Unlock() }
		// afterRefusal, when set, runs once after the next commit that
		// wrote nothing (a refused send's), before its writer is answered;
		// refusals counts those commits.
		var afterRefusal atomic.Pointer[func() error]
		var refusals atomic.Int64
		var hookErr atomic.Pointer[error]
		committed := a.s.journal.committed
		a.s.journal.committed = func(evs []*apiws.LogEvent) {
			if len(evs) == 0 {
				refusals.Add(1)
				if f := afterRefusal.Swap(nil); f != nil {
					if err := (*f)(); err != nil {
						hookErr.Store(&err) // not t.Fatal: this is the committer's goroutine
					}
				}
			}
			committed(evs)
		}
		to := "+15550100777"
		send := func(numberID string) error {
			text := "hi"
			_, err := a.s.Send(a.caller, apiws.SendMessage{NumberID: numberID, To: &to, Text: &text})
			return err
		}
		setStatus := func(s apiws.NumberStatus) {
			if _, _, err := db.ChangeNumber(ctx, a.n.ID, func(n *apiws.Number) bool { n.Status = s; return true }); err != nil {
				t.Fatal(err)
			}
		}
		account := func(change func(*apiws.Account)) {
			acc, err := db.Account(ctx, a.n.AccountID)
			if err != nil {
				t.Fatal(err)
			}
			change(acc)
			if err := db.UpdateAccountState(ctx, acc); err != nil {
				t.Fatal(err)
			}
		}

		// A commit that refuses a send runs the hooks above only when it
		// writes nothing else: each queued message is let reach SENT (out
		// of the outbox) before a refusal is waited for, so that its SENT
		// event does not share the refusal's commit.
		sent := func() {
			t.Helper()
			poll.Until(t, 10*time.Second, "the queued messages SENT", func() bool { return a.count("outbox") == 0 })
		}
		if err := send(a.n.ID); err != nil {
			t.Fatalf("send through the connected number: %v", err)
		}
		sent()
		if got := fieldErr(t, send(apiws.NewID(apiws.PrefixNumber))); got != "NOT_FOUND@input.numberId" {
			t.Errorf("send through no such number: %s", got)
		}
		othersNumber := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: a.other, Status: apiws.NumberConnected, CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(ctx, othersNumber); err != nil {
			t.Fatal(err)
		}
		if got := fieldErr(t, send(othersNumber.ID)); got != "NOT_FOUND@input.numberId" {
			t.Errorf("send through another account's connected number: %s", got)
		}
		setStatus(apiws.NumberDisconnected)
		if got := fieldErr(t, send(a.n.ID)); got != "NOT_CONNECTED@input.numberId" {
			t.Errorf("send through the disconnected number: %s", got)
		}
		// The number's check comes before the quota's.
		setLimit(0)
		if got := fieldErr(t, send(a.n.ID)); got != "NOT_CONNECTED@input.numberId" {
			t.Errorf("send through the disconnected number, no quota left: %s", got)
		}
		setStatus(apiws.NumberConnected)
		if got := fieldErr(t, send(a.n.ID)); got != "QUOTA_EXCEEDED@input" {
			t.Errorf("send with no quota left: %s", got)
		}
		setLimit(1000)
		account(func(acc *apiws.Account) { acc.ProcessingRestricted = true })
		if got := fieldErr(t, send(a.n.ID)); got != "RESTRICTED@input" {
			t.Errorf("send of a restricted account: %s", got)
		}
		account(func(acc *apiws.Account) { acc.ProcessingRestricted, acc.Status = false, apiws.AccountPendingDeletion })
		if got := fieldErr(t, send(a.n.ID)); got != "FORBIDDEN@" {
			t.Errorf("send of an account pending deletion: %s", got)
		}
		if n := a.count("messages"); n != 1 {
			t.Fatalf("%d messages written; want only the first", n)
		}

		// Refused in its write, then let through by the time it is asked
		// why (the number connected meanwhile): it is queued after all.
		account(func(acc *apiws.Account) { acc.Status = apiws.AccountActive })
		setStatus(apiws.NumberDisconnected)
		connect := func() error {
			_, _, err := db.ChangeNumber(ctx, a.n.ID, func(n *apiws.Number) bool { n.Status = apiws.NumberConnected; return true })
			return err
		}
		afterRefusal.Store(&connect)
		before := refusals.Load()
		if err := send(a.n.ID); err != nil {
			t.Fatalf("send refused in its write, connected since: %v", err)
		}
		if err := hookErr.Load(); err != nil {
			t.Fatal(*err)
		}
		if n := refusals.Load() - before; n != 1 || afterRefusal.Load() != nil {
			t.Fatalf("%d refusals in the send's writes; want its first refused", n)
		}
		if n := a.count("messages"); n != 2 {
			t.Fatalf("%d messages written; want 2", n)
		}

		// Refused, its key taken meanwhile by another send: the key's
		// answer comes first, as it would have when read before.
		sent()
		setStatus(apiws.NumberDisconnected)
		key := "raced"
		takeKey := func() error {
			now := time.Now().UTC()
			_, err := db.QueueMessage(ctx, &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: a.n.AccountID, NumberID: a.n.ID,
				Direction: apiws.Outbound, Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now, IdempotencyKey: &key}, []byte("s"))
			return err
		}
		afterRefusal.Store(&takeKey)
		text := "hi"
		_, err := a.s.Send(a.caller, apiws.SendMessage{NumberID: a.n.ID, To: &to, Text: &text, IdempotencyKey: &key})
		if err := hookErr.Load(); err != nil {
			t.Fatal(*err)
		}
		if got := fieldErr(t, err); got != "CONFLICT@input.idempotencyKey" || afterRefusal.Load() != nil {
			t.Errorf("send refused in its write, its key taken since: %s", got)
		}
	})
}
