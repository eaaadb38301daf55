package usage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/usage"
)

// newAccount writes an account and returns its id.
// reader is a context whose caller is a session of the account: the
// service's reads answer only the account itself (or an operator).
func reader(accountID string) context.Context {
	return apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: accountID})
}

func newAccount(t *testing.T, db *storage.DB) string {
	t.Helper()
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Acme", Email: apiws.NewID("e") + "@example.com",
		Status: apiws.AccountActive, PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
	err := db.CreateAccount(context.Background(), acc,
		&apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now},
		&apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(acc.ID), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now})
	if err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

// runService starts the writer and returns a stop function that flushes.
func runService(t *testing.T, svc *usage.Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func call(accountID string, at time.Time, d time.Duration, code string) *apiws.APICall {
	c := &apiws.APICall{ID: apiws.NewID(apiws.PrefixAPICall), AccountID: accountID, OperationType: "query",
		Duration: d, OK: code == "", At: at}
	if code != "" {
		c.ErrorCode = &code
	}
	return c
}

func TestUsageBucketsEqualWhatWasDone(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		ctx := reader(acc)
		svc := usage.New(db, usage.Options{FlushInterval: time.Hour})
		stop := runService(t, svc)
		// 10:59 and 11:00 fall either side of an hour boundary; Dec 1 is
		// another day and month.
		h10 := time.Date(2026, 11, 30, 10, 59, 59, 0, time.UTC)
		h11 := time.Date(2026, 11, 30, 11, 0, 0, 0, time.UTC)
		dec := time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)
		svc.RecordCall(call(acc, h10, 3*time.Millisecond, ""))
		svc.RecordCall(call(acc, h10, 7*time.Millisecond, "FORBIDDEN"))
		for i := 0; i < 3; i++ {
			svc.RecordCall(call(acc, h11, 40*time.Millisecond, ""))
		}
		svc.RecordCall(call(acc, dec, 200*time.Millisecond, ""))
		for _, st := range []apiws.MessageStatus{apiws.StatusQueued, apiws.StatusSent, apiws.StatusDelivered, apiws.StatusRead, apiws.StatusPlayed} {
			if err := svc.RecordMessage(ctx, acc, st, h11); err != nil {
				t.Fatal(err)
			}
		}
		if err := svc.RecordMessage(ctx, acc, apiws.StatusFailed, dec); err != nil {
			t.Fatal(err)
		}
		if err := svc.RecordMessage(ctx, acc, apiws.StatusReceived, dec); err != nil {
			t.Fatal(err)
		}
		stop() // flushes

		type want struct{ calls, errors, sent, delivered, read, failed, received int }
		check := func(t *testing.T, bs []*apiws.UsageBucket, starts []time.Time, ws []want) {
			t.Helper()
			if len(bs) != len(ws) {
				t.Fatalf("%d buckets; want %d", len(bs), len(ws))
			}
			for i, b := range bs {
				got := want{b.APICalls, b.Errors, b.MessagesSent, b.MessagesDelivered, b.MessagesRead, b.MessagesFailed, b.MessagesReceived}
				if got != ws[i] || !b.Start.Equal(starts[i]) {
					t.Errorf("bucket %d = %v at %v; want %v at %v", i, got, b.Start, ws[i], starts[i])
				}
			}
		}
		t.Run("by hour across a boundary", func(t *testing.T) {
			from := time.Date(2026, 11, 30, 10, 30, 0, 0, time.UTC)
			bs, err := svc.Usage(ctx, acc, from, from.Add(2*time.Hour), apiws.Hour)
			if err != nil {
				t.Fatal(err)
			}
			check(t, bs, []time.Time{h10.Truncate(time.Hour), h11, h11.Add(time.Hour)},
				[]want{{calls: 2, errors: 1}, {calls: 3, sent: 1, delivered: 1, read: 1}, {}})
			if p := bs[0].P50LatencyMs; p == nil || *p <= 0 || *p > 10 {
				t.Errorf("p50 of 3ms and 7ms = %v", p)
			}
			if p := bs[1].P95LatencyMs; p == nil || *p <= 25 || *p > 50 {
				t.Errorf("p95 of three 40ms calls = %v; want in the 25-50ms bucket", p)
			}
			if bs[2].P50LatencyMs != nil {
				t.Errorf("an empty hour has a p50: %v", *bs[2].P50LatencyMs)
			}
		})
		t.Run("by day", func(t *testing.T) {
			from := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
			bs, err := svc.Usage(ctx, acc, from, from.AddDate(0, 0, 3), apiws.Day)
			if err != nil {
				t.Fatal(err)
			}
			check(t, bs, []time.Time{from, from.AddDate(0, 0, 1), from.AddDate(0, 0, 2)},
				[]want{{}, {calls: 5, errors: 1, sent: 1, delivered: 1, read: 1}, {calls: 1, failed: 1, received: 1}})
		})
		t.Run("by month", func(t *testing.T) {
			nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			bs, err := svc.Usage(ctx, acc, nov, nov.AddDate(0, 2, 0), apiws.Month)
			if err != nil {
				t.Fatal(err)
			}
			check(t, bs, []time.Time{nov, nov.AddDate(0, 1, 0)},
				[]want{{calls: 5, errors: 1, sent: 1, delivered: 1, read: 1}, {calls: 1, failed: 1, received: 1}})
		})
		t.Run("refuses empty and huge ranges", func(t *testing.T) {
			if _, err := svc.Usage(ctx, acc, h11, h10, apiws.Day); apiws.ErrorCodeOf(err) != apiws.EINVALID {
				t.Errorf("to before from: %v", err)
			}
			if _, err := svc.Usage(ctx, acc, h10.AddDate(-2, 0, 0), h10, apiws.Hour); apiws.ErrorCodeOf(err) != apiws.EINVALID {
				t.Errorf("two years of hours: %v", err)
			}
		})
		t.Run("calls are logged with their fields", func(t *testing.T) {
			list, err := svc.APICalls(ctx, acc, apiws.Page{First: 10}, apiws.APICallFilter{})
			calls, total := list.Items, list.Total
			if err != nil || total != 6 {
				t.Fatalf("%d calls, %v; want 6", total, err)
			}
			failed := 0
			for _, c := range calls {
				if !c.OK {
					failed++
					if c.ErrorCode == nil || *c.ErrorCode != "FORBIDDEN" {
						t.Errorf("failed call has code %v", c.ErrorCode)
					}
				}
			}
			if failed != 1 {
				t.Errorf("%d failed calls; want 1", failed)
			}
		})
	})
}

func TestQuotaRefusesOnceTheMonthIsUsedUp(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		ctx := reader(acc)
		now := time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC)
		svc := usage.New(db, usage.Options{Plan: apiws.Plan{Name: "free", MonthlyMessages: 2, SendsPerSecond: 1},
			Now: func() time.Time { return now }})
		// Last month's messages do not count.
		if err := svc.RecordMessage(ctx, acc, apiws.StatusQueued, now.AddDate(0, -1, 0)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := svc.CheckQuota(ctx, acc); err != nil {
				t.Fatalf("message %d refused: %v", i, err)
			}
			if err := svc.RecordMessage(ctx, acc, apiws.StatusQueued, now); err != nil {
				t.Fatal(err)
			}
		}
		err := svc.CheckQuota(ctx, acc)
		var ae *apiws.Error
		if apiws.ErrorCodeOf(err) != apiws.EQUOTAEXCEEDED || !asError(err, &ae) || len(ae.Field) != 1 || ae.Field[0] != "input" {
			t.Fatalf("third message: %v; want QUOTA_EXCEEDED on [input]", err)
		}
		q, err := svc.Quota(ctx, acc)
		if err != nil || q.Used != 2 || q.Limit != 2 || !q.ResetsAt.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("quota = %+v, %v", q, err)
		}
		now = now.Add(time.Hour) // December
		if err := svc.CheckQuota(ctx, acc); err != nil {
			t.Fatalf("refused in a new month: %v", err)
		}
	})
}

func TestRequestRateLimitPerKeyAndAccount(t *testing.T) {
	svc := usage.New(nil, usage.Options{RatePerSecond: 1})
	ctx := context.Background()
	key := &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: "acc_1", APIKeyID: "key_1"}
	if err := svc.AllowRequest(ctx, key); err != nil {
		t.Fatal(err)
	}
	err := svc.AllowRequest(ctx, key)
	var ae *apiws.Error
	if !asError(err, &ae) || ae.Code != apiws.ERATELIMITED || ae.RetryAfter <= 0 || ae.RetryAfter > time.Second {
		t.Fatalf("second request: %v", err)
	}
	// Other credentials of the account pass until the account's own limit.
	passed := 0
	for i := 0; i < 2*usage.AccountRateFactor; i++ {
		c := &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: "acc_1", APIKeyID: apiws.NewID(apiws.PrefixAPIKey)}
		if svc.AllowRequest(ctx, c) == nil {
			passed++
		}
	}
	if passed != usage.AccountRateFactor-1 {
		t.Fatalf("%d requests of other keys passed; want %d", passed, usage.AccountRateFactor-1)
	}
	if err := svc.AllowRequest(ctx, &apiws.Caller{}); err != nil {
		t.Fatalf("a caller without account was limited: %v", err)
	}
}

func asError(err error, target **apiws.Error) bool { return errors.As(err, target) }

// The count read from the database for the quota is reused for a moment;
// a write of the pending counts must neither hide them nor count them
// twice.
func TestQuotaCountsEachMessageOnceAcrossWrites(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		ctx := reader(acc)
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		svc := usage.New(db, usage.Options{Plan: apiws.Plan{Name: "free", MonthlyMessages: 10, SendsPerSecond: 1},
			Now: func() time.Time { return now }})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			_ = svc.Run(runCtx)
			close(done)
		}()
		used := func() int {
			t.Helper()
			q, err := svc.Quota(ctx, acc)
			if err != nil {
				t.Fatal(err)
			}
			return q.Used
		}
		if u := used(); u != 0 {
			t.Fatalf("used = %d before any message", u)
		}
		for range 3 {
			if err := svc.RecordMessage(ctx, acc, apiws.StatusQueued, now); err != nil {
				t.Fatal(err)
			}
		}
		if u := used(); u != 3 {
			t.Fatalf("used = %d with 3 pending; want 3", u)
		}
		stop() // writes the pending counts
		<-done
		if u := used(); u != 3 {
			t.Fatalf("used = %d once written; want 3", u)
		}
	})
}

func TestAddressRateLimit(t *testing.T) {
	svc := usage.New(nil, usage.Options{RatePerSecond: 1})
	ctx := context.Background()
	// An address may make AddressRateFactor times the per-key rate, in a
	// burst as large.
	for i := range usage.AddressRateFactor {
		if err := svc.AllowAddress(ctx, "192.0.2.1"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := svc.AllowAddress(ctx, "192.0.2.1")
	var ae *apiws.Error
	if !asError(err, &ae) || ae.Code != apiws.ERATELIMITED || ae.RetryAfter <= 0 || ae.RetryAfter > time.Second {
		t.Fatalf("past the burst: %v", err)
	}
	if err := svc.AllowAddress(ctx, "192.0.2.2"); err != nil {
		t.Fatalf("another address was limited: %v", err)
	}
	// Its own count: the address's requests take nothing of a key's rate.
	if err := svc.AllowRequest(ctx, &apiws.Caller{Kind: apiws.CredentialNone, IP: "192.0.2.1"}); err != nil {
		t.Fatalf("the address's anonymous rate was used up: %v", err)
	}
	off := usage.New(nil, usage.Options{})
	for range 100 {
		if err := off.AllowAddress(ctx, "192.0.2.1"); err != nil {
			t.Fatalf("limits off, still limited: %v", err)
		}
	}
}

// TestQuotaNeverDropsWhileCountsAreWritten: counts taken by a rollup write
// are in neither memory nor the database until it commits; a quota read in
// that window must wait for it, not count too few (which would let sends
// over the plan through).
func TestQuotaNeverDropsWhileCountsAreWritten(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		ctx := reader(acc)
		now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
		svc := usage.New(db, usage.Options{Plan: apiws.Plan{Name: "free", MonthlyMessages: 1000, SendsPerSecond: 1},
			FlushInterval: time.Millisecond, Now: func() time.Time { return now }})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			_ = svc.Run(runCtx)
			close(done)
		}()
		defer func() { stop(); <-done }()
		last := 0
		for i := 1; i <= 300; i++ {
			if err := svc.RecordMessage(ctx, acc, apiws.StatusQueued, now); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				q, err := svc.Quota(ctx, acc)
				if err != nil {
					t.Fatal(err)
				}
				if q.Used < last || q.Used > i {
					t.Fatalf("after %d messages, used = %d (it was %d)", i, q.Used, last)
				}
				last = q.Used
			}
		}
	})
}

// The service's reads take the caller from the context: another account's
// data is NOT_FOUND like a missing account's, a key without READ is
// FORBIDDEN, an operator reads any account; the quota check of a send needs
// no READ.
func TestReadsAnswerOnlyTheAccount(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		acc := newAccount(t, db)
		svc := usage.New(db, usage.Options{FlushInterval: time.Hour, Plan: apiws.Plan{Name: "free", MonthlyMessages: 10}})
		runService(t, svc)
		sender := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: acc, Scopes: []apiws.Scope{apiws.ScopeSend}})
		callers := []struct {
			name string
			ctx  context.Context
			want apiws.ErrorCode
		}{
			{"nobody", context.Background(), apiws.EUNAUTHENTICATED},
			{"another account", reader(newAccount(t, db)), apiws.ENOTFOUND},
			{"a key without READ", sender, apiws.EFORBIDDEN},
			{"the account", reader(acc), ""},
			{"an operator", apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialOperator}), ""},
		}
		now := time.Now()
		reads := map[string]func(ctx context.Context) error{
			"Plan":  func(ctx context.Context) error { _, err := svc.Plan(ctx, acc); return err },
			"Quota": func(ctx context.Context) error { _, err := svc.Quota(ctx, acc); return err },
			"Usage": func(ctx context.Context) error {
				_, err := svc.Usage(ctx, acc, now.Add(-time.Hour), now, apiws.Hour)
				return err
			},
			"APICalls": func(ctx context.Context) error {
				_, err := svc.APICalls(ctx, acc, apiws.Page{First: 5}, apiws.APICallFilter{})
				return err
			},
		}
		for _, c := range callers {
			for name, read := range reads {
				if got := apiws.ErrorCodeOf(read(c.ctx)); got != c.want {
					t.Errorf("%s by %s: code %q, want %q", name, c.name, got, c.want)
				}
			}
		}
		if err := svc.CheckQuota(sender, acc); err != nil {
			t.Errorf("CheckQuota for a sender without READ: %v", err)
		}
	})
}
