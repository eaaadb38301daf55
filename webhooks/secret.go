package webhooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/apiws/apiws"
)

// secretPrefix starts every signing secret (Standard Webhooks).
const secretPrefix = "whsec_"

// sealPurpose names the key the signing secrets are sealed with, derived
// from the secret key (apiws.DeriveKey).
const sealPurpose = "apiws webhook secrets v1: AES-256-GCM"

// newSecret returns a new signing secret: whsec_ and the base64 of 32
// random bytes.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the HMAC key of a secret: the bytes its base64 holds.
func secretKey(secret string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
}

// sealer keeps signing secrets sealed at rest (AES-256-GCM under a key
// derived for them), the endpoint id as additional data, so a secret cannot
// be moved to another endpoint unnoticed.
type sealer struct{ aead cipher.AEAD }

func newSealer(secretKey []byte) (*sealer, error) {
	if len(secretKey) != 32 {
		return nil, errors.New("the secret key must be 32 bytes")
	}
	block, err := aes.NewCipher(apiws.DeriveKey(secretKey, sealPurpose))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns nonce || ciphertext of the endpoint's secret.
func (s *sealer) seal(endpointID, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(secret)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(endpointID))
}

// open returns the secret seal sealed for the endpoint.
func (s *sealer) open(endpointID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(endpointID))
	if err != nil {
		return "", fmt.Errorf("open the secret of %s: %w", endpointID, err)
	}
	return string(plain), nil
}
