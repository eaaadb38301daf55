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

// codeHash is what is stored of a request's code: an HMAC bound to the
// request, so a code cannot be moved to another request.
func (s *Service) codeHash(requestID, code string) []byte {
	m := hmac.New(sha256.New, s.opts.SecretKey)
	m.Write([]byte(requestID))
	m.Write([]byte{0})
	m.Write([]byte(strings.TrimSpace(code)))
	return m.Sum(nil)
}

// equalHash compares two code hashes in constant time.
func equalHash(a, b []byte) bool { return hmac.Equal(a, b) }
