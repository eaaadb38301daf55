package messaging

import (
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
type sealer struct{ current, legacy *apiws.Sealer }

func newSealer(secret []byte) (*sealer, error) {
	current, err := apiws.NewSealer(secret, sealPurpose)
	if err != nil {
		return nil, err
	}
	legacy, err := apiws.NewSealerWithKey(secret)
	if err != nil {
		return nil, err
	}
	return &sealer{current: current, legacy: legacy}, nil
}

// seal returns nonce || ciphertext.
func (s *sealer) seal(messageID string, plain []byte) []byte {
	return s.current.Seal([]byte(messageID), plain)
}

// open opens what seal sealed, or content sealed with the secret key
// before keys were derived: GCM's tag tells which key sealed it.
func (s *sealer) open(messageID string, sealed []byte) ([]byte, error) {
	plain, err := s.current.Open([]byte(messageID), sealed)
	if err != nil {
		if plain, lerr := s.legacy.Open([]byte(messageID), sealed); lerr == nil {
			return plain, nil
		}
		return nil, fmt.Errorf("open content of %s: %w", messageID, err)
	}
	return plain, nil
}
