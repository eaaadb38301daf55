package accounts

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/usage"
)

// Email change codes are stored under an HMAC key derived for them, never
// under the secret key itself (which also seals content).
func TestEmailChangeCodeKeyIsDerived(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		secret := bytes.Repeat([]byte{5}, 32)
		s := New(db, Options{Limiter: usage.NewMemoryLimiter(), SecretKey: secret})
		now := time.Now().UTC()
		s.now = func() time.Time { return now }
		acc, ctx := signedUp(t, s, "derive@example.com")
		to, pw := "derived@example.com", password
		if _, err := s.UpdateAccount(ctx, apiws.AccountUpdate{Email: &to, CurrentPassword: &pw}); err != nil {
			t.Fatal(err)
		}
		code := mailedEmailCode(t, db, to, now)
		ch := new(apiws.EmailChange)
		if err := db.Bun.NewSelect().Model(ch).Where("account_id = ?", acc.ID).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		hash := func(key []byte) []byte {
			m := hmac.New(sha256.New, key)
			fmt.Fprintf(m, "email-change\x00%s\x00%s\x00%s", acc.ID, strings.ToLower(to), code)
			return m.Sum(nil)
		}
		if !hmac.Equal(ch.CodeHash, hash(apiws.DeriveKey(secret, emailCodePurpose))) || hmac.Equal(ch.CodeHash, hash(secret)) {
			t.Fatalf("the code's hash %x is not keyed by the derived key alone", ch.CodeHash)
		}
		if a, err := s.ConfirmEmailChange(ctx, code); err != nil || a.Email != to {
			t.Fatalf("ConfirmEmailChange = %+v, %v", a, err)
		}
	})
}
