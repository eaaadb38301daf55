package messaging

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"

	"github.com/apiws/apiws"
)

func gcm(t *testing.T, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// Content is sealed under a key derived for it, never under the secret key
// itself (which also keyed HMACs); content sealed with the secret key before
// the change still opens.
func TestSealerDerivesItsKeyAndOpensLegacyContent(t *testing.T) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	s, err := newSealer(secret)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("hello there")
	sealed := s.seal("msg_1", plain)
	n := gcm(t, secret).NonceSize()
	if _, err := gcm(t, secret).Open(nil, sealed[:n], sealed[n:], []byte("msg_1")); err == nil {
		t.Fatal("content was sealed with the secret key itself")
	}
	if got, err := gcm(t, apiws.DeriveKey(secret, sealPurpose)).Open(nil, sealed[:n], sealed[n:], []byte("msg_1")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("content does not open with the derived key: %q, %v", got, err)
	}

	// Sealed as before the change: nonce || AES-GCM under the secret key.
	legacy := gcm(t, secret)
	nonce := make([]byte, n)
	_, _ = rand.Read(nonce)
	old := legacy.Seal(append([]byte(nil), nonce...), nonce, plain, []byte("msg_2"))
	if got, err := s.open("msg_2", old); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("content sealed before the change = %q, %v", got, err)
	}
	if _, err := s.open("msg_3", old); err == nil {
		t.Fatal("old content opened as another message's")
	}
	old[len(old)-1] ^= 1
	if _, err := s.open("msg_2", old); err == nil {
		t.Fatal("tampered old content opened")
	}
	other, _ := newSealer(bytes.Repeat([]byte{1}, 32))
	if _, err := other.open("msg_1", sealed); err == nil {
		t.Fatal("content opened under another secret key")
	}
}
