package whatsapp

import (
	"fmt"
	"strings"

	"github.com/apiws/apiws/phones"
)

// normalizePhone checks that phone is a possible E.164 number and returns it
// in canonical E.164 form, by the one rule set of apiws (phones.Normalize).
// Possible rather than valid: the fictional +1 555 numbers the sandbox
// hands out must be accepted too.
func normalizePhone(phone string) (string, error) {
	p, ok := phones.Normalize(phone)
	if !ok {
		return "", fmt.Errorf("%q: %w", phone, ErrInvalidPhone)
	}
	return p, nil
}

// isLID reports whether s can be the user part of a LID: digits only.
func isLID(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// phoneDigits is phone without its "+": the user part of a WhatsApp JID.
func phoneDigits(e164 string) string {
	return strings.TrimPrefix(e164, "+")
}
