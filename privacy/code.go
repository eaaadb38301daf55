package privacy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Verification codes: six digits, mailed, valid for codeTTL and for
// maxCodeAttempts wrong tries; with the rate limit on attempts, guessing
// one is hopeless.
const (
	codeTTL         = 30 * time.Minute
	maxCodeAttempts = 5
)

// newCode returns a random six-digit code.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}

// codePurpose names the HMAC key of verification codes, derived from the
// secret key (apiws.DeriveKey).
const codePurpose = "apiws privacy request code v1: HMAC-SHA256"

// codeHash is what is stored of a request's code: an HMAC bound to the
// request, so a code cannot be moved to another request.
func (s *Service) codeHash(requestID, code string) []byte {
	return requestCodeHash(s.codeKey, requestID, code)
}

// codeMatches reports whether code is the one stored for the request. A
// code mailed before keys were derived was stored under the secret key
// itself; it still works for the 30 minutes it lives.
func (s *Service) codeMatches(requestID, code string, stored []byte) bool {
	return equalHash(s.codeHash(requestID, code), stored) ||
		equalHash(requestCodeHash(s.opts.SecretKey, requestID, code), stored)
}

func requestCodeHash(key []byte, requestID, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(requestID))
	m.Write([]byte{0})
	m.Write([]byte(strings.TrimSpace(code)))
	return m.Sum(nil)
}

// equalHash compares two code hashes in constant time.
func equalHash(a, b []byte) bool { return hmac.Equal(a, b) }
