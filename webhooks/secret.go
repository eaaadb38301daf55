package webhooks

import (
	"crypto/rand"
	"encoding/base64"
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

// sealer keeps signing secrets sealed at rest (apiws.Sealer under a key
// derived for them), the endpoint id as additional data, so a secret cannot
// be moved to another endpoint unnoticed.
type sealer struct{ s *apiws.Sealer }

func newSealer(secretKey []byte) (*sealer, error) {
	s, err := apiws.NewSealer(secretKey, sealPurpose)
	if err != nil {
		return nil, err
	}
	return &sealer{s: s}, nil
}

// seal returns the endpoint's secret, sealed.
func (s *sealer) seal(endpointID, secret string) []byte {
	return s.s.Seal([]byte(endpointID), []byte(secret))
}

// open returns the secret seal sealed for the endpoint.
func (s *sealer) open(endpointID string, sealed []byte) (string, error) {
	plain, err := s.s.Open([]byte(endpointID), sealed)
	if err != nil {
		return "", fmt.Errorf("open the secret of %s: %w", endpointID, err)
	}
	return string(plain), nil
}
