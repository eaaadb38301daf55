package numbers_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/whatsapp"
)

// lookups records the phones of each Lookup a connector is asked for.
type lookups struct {
	whatsapp.Connector
	mu    sync.Mutex
	calls [][]string
}

func (l *lookups) Lookup(ctx context.Context, n *apiws.Number, phones []string) ([]whatsapp.LookupResult, error) {
	l.mu.Lock()
	l.calls = append(l.calls, phones)
	l.mu.Unlock()
	return l.Connector.Lookup(ctx, n, phones)
}

func (l *lookups) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

func lid(s string) *string { return &s }

// TestLookupRules: distinct phones asked once, in order; the bounds, the
// scope, another account's number and a disconnected one refused before
// anything is asked.
func TestLookupRules(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		conn := &lookups{}
		e := newEnvOpts(t, db, envOptions{wrap: func(c whatsapp.Connector) whatsapp.Connector { conn.Connector = c; return conn }})
		ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
		defer cancel()
		n := e.pairSandbox(ctx, t)

		got, err := e.svc.Lookup(ctx, n.ID, []string{"+1 555 010 0007", "+15550100000", "+15550100007"})
		want := []apiws.NumberLookup{
			{Phone: "+15550100007", OnWhatsApp: true, LID: lid("100015550100007")},
			{Phone: "+15550100000"},
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Lookup = %+v, %v; want %+v", got, err, want)
		}
		if !reflect.DeepEqual(conn.calls, [][]string{{"+15550100007", "+15550100000"}}) {
			t.Errorf("the connector was asked %v", conn.calls)
		}
		if got, err := e.svc.Lookup(ctx, n.ID, nil); err != nil || got == nil || len(got) != 0 {
			t.Errorf("Lookup of no phones = %#v, %v; want an empty list", got, err)
		}

		many := make([]string, apiws.MaxLookup+1)
		for i := range many {
			many[i] = fmt.Sprintf("+1555020%04d", i)
		}
		readOnly := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: e.acc.ID, APIKeyID: "key_1", Scopes: []apiws.Scope{apiws.ScopeRead}})
		sendOnly := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: e.acc.ID, APIKeyID: "key_2", Scopes: []apiws.Scope{apiws.ScopeSend}})
		stranger := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: "acc_nobody"})
		if got, err := e.svc.Lookup(readOnly, n.ID, many[:apiws.MaxLookup]); err != nil || len(got) != apiws.MaxLookup {
			t.Errorf("Lookup of %d phones with a READ key: %d answers, %v", apiws.MaxLookup, len(got), err)
		}
		asked := conn.count()
		for _, tc := range []struct {
			name   string
			ctx    context.Context
			id     string
			phones []string
			want   apiws.ErrorCode
		}{
			{"too many phones", e.ctx, n.ID, many, apiws.EBADREQUEST},
			{"an invalid phone", e.ctx, n.ID, []string{"+15550100001", "12"}, apiws.EBADREQUEST},
			{"a key without READ", sendOnly, n.ID, []string{"+15550100001"}, apiws.EFORBIDDEN},
			{"another account's number", stranger, n.ID, []string{"+15550100001"}, apiws.ENOTFOUND},
			{"an unknown number", e.ctx, "num_nope", []string{"+15550100001"}, apiws.ENOTFOUND},
		} {
			if _, err := e.svc.Lookup(tc.ctx, tc.id, tc.phones); apiws.ErrorCodeOf(err) != tc.want {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
			}
		}
		if _, err := e.svc.DisconnectNumber(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Lookup(ctx, n.ID, []string{"+15550100001"}); apiws.ErrorCodeOf(err) != apiws.ENOTCONNECTED {
			t.Errorf("Lookup through a disconnected number: %v, want NOT_CONNECTED", err)
		}
		if conn.count() != asked {
			t.Errorf("refused lookups reached the connector: %v", conn.calls[asked:])
		}
	})
}

// TestLookupThroughTheOwner: an instance that does not hold the number's
// connection has its owner look the phones up; with no owner answering,
// the lookup is UNAVAILABLE after lookupWait.
func TestLookupThroughTheOwner(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		atA := &lookups{}
		ownerA := &owner{}
		ownerA.owns.Store(true)
		a := newEnvOpts(t, db, envOptions{owner: ownerA, wrap: func(c whatsapp.Connector) whatsapp.Connector { atA.Connector = c; return atA }})

		// Instance B, on the same database and bus, owns nothing.
		atB := &lookups{}
		b, clk := a.otherInstance(t, db, func(c whatsapp.Connector) whatsapp.Connector { atB.Connector = c; return atB })

		ctx, cancel := context.WithTimeout(a.ctx, 20*time.Second)
		defer cancel()
		n := a.pairSandbox(ctx, t)
		got, err := b.Lookup(ctx, n.ID, []string{"+15550100000", "+15550100001"})
		want := []apiws.NumberLookup{{Phone: "+15550100000"}, {Phone: "+15550100001", OnWhatsApp: true, LID: lid("100015550100001")}}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Lookup through B = %+v, %v; want %+v", got, err, want)
		}
		if atA.count() != 1 || atB.count() != 0 {
			t.Fatalf("lookups: owner %d, B %d; want the owner's only", atA.count(), atB.count())
		}

		// Nobody holds it: no answer.
		ownerA.owns.Store(false)
		clk.Advance(time.Minute) // the first lookup's wait, answered early
		done := make(chan error, 1)
		go func() { _, err := b.Lookup(ctx, n.ID, []string{"+15550100001"}); done <- err }()
		clk.awaitWaiter(t)
		clk.Advance(time.Minute)
		if err := <-done; apiws.ErrorCodeOf(err) != apiws.EUNAVAILABLE {
			t.Fatalf("Lookup with no owner: %v, want UNAVAILABLE", err)
		}
		if atA.count() != 1 || atB.count() != 0 {
			t.Errorf("lookups: former owner %d, B %d; want none more", atA.count(), atB.count())
		}
	})
}
