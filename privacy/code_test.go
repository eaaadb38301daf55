package privacy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// signedUp creates an account with a session at now and returns a context
// carrying that session as the caller.
func signedUp(t *testing.T, db *storage.DB, now time.Time) (context.Context, *apiws.Account) {
	t.Helper()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Ann", Email: "ann@example.com", Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
	sess := &apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte("t"), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateAccount(context.Background(), acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now}, sess,
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now}); err != nil {
		t.Fatal(err)
	}
	ctx := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID, SessionID: sess.ID})
	return ctx, acc
}

// TestCodeExpiresWithoutASweep proves the code's lifetime is checked when
// it is entered, not only when the sweep forgets it.
func TestCodeExpiresWithoutASweep(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Now().UTC()
		ctx, acc := signedUp(t, db, now)
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

// Codes are stored under an HMAC key derived for them, not under the secret
// key itself (which also sealed content); a code stored under the secret key
// before the change still verifies, and a wrong one does not.
func TestCodeHashKeyIsDerived(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := time.Now().UTC()
		ctx, _ := signedUp(t, db, now)
		secret := bytes.Repeat([]byte{9}, 32)
		s := New(db, Options{SecretKey: secret})
		submit := func() (*apiws.PrivacyRequest, string) {
			t.Helper()
			r, err := s.SubmitRequest(ctx, apiws.NewPrivacyRequest{Type: apiws.RequestObjection})
			if err != nil {
				t.Fatal(err)
			}
			ms, err := db.ClaimMail(ctx, time.Now(), time.Minute, 10)
			if err != nil || len(ms) != 1 {
				t.Fatalf("outbox = %v, %v", ms, err)
			}
			if err := db.MailSent(ctx, ms[0].ID); err != nil {
				t.Fatal(err)
			}
			return r, regexp.MustCompile(`code is: (\d{6})`).FindStringSubmatch(ms[0].Body)[1]
		}
		stored := func(id string) []byte {
			t.Helper()
			r := new(apiws.PrivacyRequest)
			if err := db.Bun.NewSelect().Model(r).Where("id = ?", id).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			return r.CodeHash
		}

		r, code := submit()
		if got := stored(r.ID); !hmac.Equal(got, requestCodeHash(apiws.DeriveKey(secret, codePurpose), r.ID, code)) ||
			hmac.Equal(got, requestCodeHash(secret, r.ID, code)) {
			t.Fatalf("the code's hash is not keyed by the derived key alone: %x", got)
		}
		if r, err := s.VerifyRequest(ctx, r.ID, code); err != nil || r.Status != apiws.RequestCompleted {
			t.Fatalf("verify = %+v, %v", r, err)
		}

		// A code stored before the change, under the secret key itself.
		r, code = submit()
		_, err := db.Bun.NewUpdate().Model((*apiws.PrivacyRequest)(nil)).Set("code_hash = ?", requestCodeHash(secret, r.ID, code)).
			Where("id = ?", r.ID).Exec(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
		if _, err := s.VerifyRequest(ctx, r.ID, wrong); apiws.ErrorCodeOf(err) != apiws.EINVALID {
			t.Fatalf("a wrong code against an old hash: %v", err)
		}
		if r, err := s.VerifyRequest(ctx, r.ID, code); err != nil || r.Status != apiws.RequestCompleted {
			t.Fatalf("verify a code stored before the change = %+v, %v", r, err)
		}
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
