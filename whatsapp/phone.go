package whatsapp

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// normalizePhone checks that phone is a possible E.164 number and returns it
// in canonical E.164 form. Possible rather than valid: the fictional +1 555
// numbers the sandbox hands out must be accepted too.
func normalizePhone(phone string) (string, error) {
	if !strings.HasPrefix(phone, "+") {
		return "", fmt.Errorf("%q: %w", phone, ErrInvalidPhone)
	}
	num, err := phonenumbers.Parse(phone, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", fmt.Errorf("%q: %w", phone, ErrInvalidPhone)
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// phoneDigits is phone without its "+": the user part of a WhatsApp JID.
func phoneDigits(e164 string) string {
	return strings.TrimPrefix(e164, "+")
}
