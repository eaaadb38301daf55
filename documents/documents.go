// Package documents keeps the GraphQL documents apiws knows by their
// SHA-256: the cache of automatic persisted queries (in Redis, shared by
// every instance, or in memory) and the allow-list of trusted documents an
// operator may restrict the API to.
package documents

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash is the SHA-256 of a document's exact text in lower-case hex, as
// automatic persisted queries and trusted-document tools compute it.
func Hash(document string) string {
	sum := sha256.Sum256([]byte(document))
	return hex.EncodeToString(sum[:])
}

// isHash reports whether s reads as a Hash: 64 lower-case hex digits.
func isHash(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
