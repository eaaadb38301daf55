package privacy

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// TestCodeExpiresWithoutASweep proves the code's lifetime is checked when
// it is entered, not only when the sweep forgets it.
func TestCodeExpiresWithoutASweep(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Now().UTC()
		acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Ann", Email: "ann@example.com", Status: apiws.AccountActive,
			PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
		sess := &apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte("t"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateAccount(context.Background(), acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now}, sess,
			&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now}); err != nil {
			t.Fatal(err)
		}
		ctx := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID})
		s := New(db, Options{SecretKey: []byte("k")})
		s.now = func() time.Time { return now }
		r, err := s.SubmitRequest(ctx, apiws.NewPrivacyRequest{Type: apiws.RequestObjection})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := db.ClaimMail(ctx, now, time.Minute, 10)
		if err != nil || len(ms) != 1 || ms[0].To != acc.Email {
			t.Fatalf("outbox = %v, %v", ms, err)
		}
		code := regexp.MustCompile(`code is: (\d{6})`).FindStringSubmatch(ms[0].Body)[1]

		s.now = func() time.Time { return now.Add(codeTTL) }
		_, err = s.VerifyRequest(ctx, r.ID, code)
		if e, ok := err.(*apiws.Error); !ok || e.Code != apiws.EEXPIRED || len(e.Field) != 1 || e.Field[0] != "code" {
			t.Fatalf("verify at the end of the code's life: %v", err)
		}
		s.now = func() time.Time { return now.Add(codeTTL - time.Second) }
		if r, err := s.VerifyRequest(ctx, r.ID, code); err != nil || r.Status != apiws.RequestCompleted {
			t.Fatalf("verify just before: %+v, %v", r, err)
		}
	})
}
