package apiws

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
)

// Sealer encrypts what apiws keeps at rest but must not keep in clear
// (message content in the outbox and in transit, webhook signing secrets):
// AES-256-GCM, a fresh random nonce per value, and additional data that
// binds a sealed value to what it belongs to (a message, an event, an
// endpoint), so it cannot be moved elsewhere unnoticed.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns the sealer of one purpose: its key is derived from the
// secret key (32 bytes) for that purpose alone (DeriveKey).
func NewSealer(secret []byte, purpose string) (*Sealer, error) {
	if len(secret) != 32 {
		return nil, errors.New("the secret key must be 32 bytes")
	}
	return NewSealerWithKey(DeriveKey(secret, purpose))
}

// NewSealerWithKey returns a sealer under key itself (32 bytes), for
// values sealed before keys were derived.
func NewSealerWithKey(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce || ciphertext of plain, bound to aad.
func (s *Sealer) Seal(aad, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// Open returns what Seal sealed with the same aad; an error when sealed
// was changed, belongs to other aad, or was sealed under another key.
func (s *Sealer) Open(aad, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], aad)
}
