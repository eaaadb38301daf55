package apiws

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// DeriveKey returns the 32-byte key of one purpose, derived from the
// deployment's secret key (APIWS_SECRET_KEY) with HKDF-SHA256, the purpose
// as HKDF's info. Each use of the secret (an AES key, an HMAC key) takes a
// purpose of its own, so no two share a key and none is the secret itself.
func DeriveKey(secret []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, secret, nil, purpose, 32)
	if err != nil {
		// Only a length over 255 hash sizes fails.
		panic("hkdf: " + err.Error())
	}
	return key
}
