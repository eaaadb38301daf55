package messaging

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/apiws/apiws"
)

// sealPurpose names the key content is sealed with, derived from the secret
// key (apiws.DeriveKey).
const sealPurpose = "apiws message content v1: AES-256-GCM"

// sealer encrypts message content at rest with AES-256-GCM under a key of
// its own, derived from the secret key. The message id is the additional
// data, so sealed content cannot be moved to another message unnoticed.
//
// Content sealed before keys were derived used the secret key itself; it
// still opens (legacy) until it is gone: outbox content within the transit
// TTL (72 h at most), content kept for a debug capture when the capture ends
// (30 days at most). Nothing is sealed with the secret key any more.
type sealer struct{ aead, legacy cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	if len(secret) != 32 {
		return nil, errors.New("the secret key must be 32 bytes")
	}
	aead, err := newGCM(apiws.DeriveKey(secret, sealPurpose))
	if err != nil {
		return nil, err
	}
	legacy, err := newGCM(secret)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead, legacy: legacy}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal returns nonce || ciphertext.
func (s *sealer) seal(messageID string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(messageID))
}

// open opens what seal sealed, or content sealed with the secret key
// before keys were derived: GCM's tag tells which key sealed it.
func (s *sealer) open(messageID string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed content too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(messageID))
	if err != nil {
		var lerr error
		if plain, lerr = s.legacy.Open(nil, sealed[:n], sealed[n:], []byte(messageID)); lerr == nil {
			return plain, nil
		}
		return nil, fmt.Errorf("open content of %s: %w", messageID, err)
	}
	return plain, nil
}
