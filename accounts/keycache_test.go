package accounts

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/internal/poll"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestRevokedKeyFailsOnEveryInstance: two instances (services over one
// database and one bus) cache the keys and sessions they authenticate. Their clocks
// stand still, so only a revocation pushed over the bus can end a cached
// key early; one that is not pushed ends when the cache's second is over.
func TestRevokedKeyFailsOnEveryInstance(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		bus := events.NewMemory(events.Options{})
		t.Cleanup(func() { _ = bus.Close() })
		now := t0
		var clock sync.Mutex
		instance := func() *Service {
			s := New(db, Options{Bus: bus})
			s.now = func() time.Time { clock.Lock(); defer clock.Unlock(); return now }
			return s
		}
		a, b := instance(), instance()
		ctx, cancel := context.WithCancel(context.Background())
		var running sync.WaitGroup
		for _, s := range []*Service{a, b} {
			running.Go(func() { _ = s.Run(ctx) })
		}
		t.Cleanup(func() { cancel(); running.Wait() })
		waitFor := func(what string, ok func() bool) {
			t.Helper()
			poll.Until(t, time.Second, what, ok)
		}
		waitFor("both instances follow revocations", func() bool { return bus.Stats().Subscribers == 2 })

		acc, session := signedUp(t, a, "cache@example.com")
		authenticates := func(s *Service, secret string) bool {
			t.Helper()
			c, err := s.Authenticate(context.Background(), secret)
			if err != nil && apiws.ErrorCodeOf(err) != apiws.EUNAUTHENTICATED {
				t.Fatal(err)
			}
			return err == nil && c.AccountID == acc.ID
		}
		newKey := func() (secret, id string) {
			t.Helper()
			k, secret, err := a.CreateAPIKey(session, apiws.NewAPIKey{Name: "k", Scopes: []apiws.Scope{apiws.ScopeSend}})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Service{a, b} {
				if !authenticates(s, secret) {
					t.Fatal("a new key is refused")
				}
			}
			return secret, k.ID
		}

		// Revoked behind the caches' back: they keep it for their second.
		revokeInDB := func(where string, arg string) {
			t.Helper()
			if _, err := db.Bun.NewUpdate().Model((*apiws.APIKey)(nil)).Set("revoked_at = ?", t0).Where(where, arg).Exec(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		quiet, quietID := newKey()
		revokeInDB("id = ?", quietID)
		if !authenticates(b, quiet) {
			t.Fatal("the key is not cached")
		}
		clock.Lock()
		now = now.Add(keyCacheFor)
		clock.Unlock()
		if authenticates(a, quiet) || authenticates(b, quiet) {
			t.Fatal("a revoked key is trusted beyond the cache's second")
		}

		// Revoked through one instance: the other drops it when told.
		loud, loudID := newKey()
		if _, err := a.RevokeAPIKey(session, loudID); err != nil {
			t.Fatal(err)
		}
		if authenticates(a, loud) {
			t.Fatal("the instance that revoked the key still takes it")
		}
		waitFor("the other instance refuses the revoked key", func() bool { return !authenticates(b, loud) })

		// An erasure revokes every key of the account.
		first, _ := newKey()
		second, _ := newKey()
		revokeInDB("account_id = ?", acc.ID)
		a.CredentialsRevoked(context.Background(), acc.ID, "")
		waitFor("the other instance refuses every key of the account", func() bool {
			return !authenticates(b, first) && !authenticates(b, second)
		})

		// A session logged out through one instance ends on the other.
		_, token, err := a.SignUp(context.Background(), apiws.SignUp{Name: "Bo", Email: "cache-session@example.com", Password: password,
			BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), AcceptPolicyVersion: "1.0", IP: "198.51.100.7"})
		if err != nil {
			t.Fatal(err)
		}
		sessionOn := func(s *Service) *apiws.Caller {
			t.Helper()
			c, err := s.Authenticate(context.Background(), token)
			if err != nil && apiws.ErrorCodeOf(err) != apiws.EUNAUTHENTICATED {
				t.Fatal(err)
			}
			return c
		}
		caller := sessionOn(a)
		if caller == nil || sessionOn(b) == nil {
			t.Fatal("a new session is refused")
		}
		if err := a.LogOut(apiws.WithCaller(context.Background(), caller)); err != nil {
			t.Fatal(err)
		}
		if sessionOn(a) != nil {
			t.Fatal("the instance that ended the session still takes it")
		}
		waitFor("the other instance refuses the ended session", func() bool { return sessionOn(b) == nil })
	})
}
