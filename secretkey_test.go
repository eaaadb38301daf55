package apiws

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestDeriveKeyGivesEachPurposeItsOwnKey(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	a, b := DeriveKey(secret, "apiws test a"), DeriveKey(secret, "apiws test b")
	if len(a) != 32 || len(b) != 32 || bytes.Equal(a, b) || bytes.Equal(a, secret) {
		t.Fatalf("purposes a and b: %x and %x (secret %x)", a, b, secret)
	}
	if !bytes.Equal(a, DeriveKey(secret, "apiws test a")) {
		t.Fatal("the same purpose gave two keys")
	}
	if bytes.Equal(a, DeriveKey(bytes.Repeat([]byte{8}, 32), "apiws test a")) {
		t.Fatal("two secrets gave one key")
	}
	// RFC 5869's construction: PRK = HMAC(salt = zeros, secret), then
	// T(1) = HMAC(PRK, info || 0x01).
	extract := hmac.New(sha256.New, make([]byte, sha256.Size))
	extract.Write(secret)
	expand := hmac.New(sha256.New, extract.Sum(nil))
	expand.Write([]byte("apiws test a\x01"))
	if want := expand.Sum(nil); !bytes.Equal(a, want) {
		t.Fatalf("DeriveKey = %x, want HKDF-SHA256 %x", a, want)
	}
}
