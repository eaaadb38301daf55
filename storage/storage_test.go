package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func newAccount(email string) (*apiws.Account, *apiws.Consent, *apiws.Session, *apiws.AuditEntry) {
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Acme", Email: email, Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now,
		Business: &apiws.BusinessDetails{Name: ptr("Acme Ltd")}}
	return acc,
		&apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now},
		&apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(email), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now}
}

func ptr[T any](v T) *T { return &v }

func TestMigrateTwiceIsANoop(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		names, err := db.Migrate(context.Background())
		if err != nil || len(names) != 0 {
			t.Fatalf("second Migrate = %v, %v; want nothing to do", names, err)
		}
		ps, err := db.PolicyVersions(context.Background())
		if err != nil || len(ps) != 1 || ps[0].Version != "1.0" || !ps[0].EffectiveAt.Equal(time.Date(2025, 7, 8, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("seeded policy = %+v, %v", ps, err)
		}
	})
}

func TestAccountRoundTrip(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("Ann@Example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		got, err := db.AccountByEmail(ctx, "ann@EXAMPLE.com")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != acc.ID || got.Business == nil || *got.Business.Name != "Acme Ltd" || !got.CreatedAt.Equal(acc.CreatedAt.Truncate(time.Microsecond)) {
			t.Fatalf("read back %+v", got)
		}
		sess, err := db.SessionByHash(ctx, []byte("Ann@Example.com"))
		if err != nil || sess.AccountID != acc.ID {
			t.Fatalf("session = %+v, %v", sess, err)
		}
	})
}

func TestDuplicateEmailInAnyCaseIsTakenAndWritesNothing(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("bob@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		acc2, c2, s2, a2 := newAccount("BOB@example.COM")
		err := db.CreateAccount(ctx, acc2, c2, s2, a2)
		var ae *apiws.Error
		if !errors.As(err, &ae) || ae.Code != apiws.ETAKEN || len(ae.Field) != 2 || ae.Field[1] != "email" {
			t.Fatalf("CreateAccount(dup) = %v; want ETAKEN on input.email", err)
		}
		if _, err := db.Account(ctx, acc2.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("refused account was written: %v", err)
		}
		if _, err := db.SessionByHash(ctx, []byte("BOB@example.COM")); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("refused account's session was written: %v", err)
		}
	})
}

func TestAPIKeyBelongsToItsAccountOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		acc, c, s, a := newAccount("c@example.com")
		if err := db.CreateAccount(ctx, acc, c, s, a); err != nil {
			t.Fatal(err)
		}
		other, c2, s2, a2 := newAccount("d@example.com")
		if err := db.CreateAccount(ctx, other, c2, s2, a2); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		k := &apiws.APIKey{ID: apiws.NewID(apiws.PrefixAPIKey), AccountID: acc.ID, Name: "ci", Prefix: "apiws_abc",
			SecretHash: []byte("h"), Scopes: []apiws.Scope{apiws.ScopeRead, apiws.ScopeSend}, CreatedAt: now}
		if err := db.CreateAPIKey(ctx, k, &apiws.AuditEntry{Actor: "account", Action: "api_key.create", At: now}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.APIKey(ctx, other.ID, k.ID); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("other account sees the key: %v", err)
		}
		if _, err := db.RevokeAPIKey(ctx, other.ID, k.ID, now, &apiws.AuditEntry{Actor: "account", Action: "x", At: now}); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("other account revoked the key: %v", err)
		}
		got, err := db.RevokeAPIKey(ctx, acc.ID, k.ID, now, &apiws.AuditEntry{Actor: "account", Action: "x", At: now})
		if err != nil || got.RevokedAt == nil || len(got.Scopes) != 2 {
			t.Fatalf("revoke = %+v, %v", got, err)
		}
		later := now.Add(time.Minute)
		if err := db.TouchAPIKeys(ctx, map[string]time.Time{k.ID: later}); err != nil {
			t.Fatal(err)
		}
		got, _ = db.APIKey(ctx, acc.ID, k.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(later.Truncate(time.Microsecond)) {
			t.Fatalf("last used = %v", got.LastUsedAt)
		}
	})
}
