// Package phones parses phone numbers into E.164 with libphonenumber's
// rules.
package phones

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize returns s in E.164 (+14155550123). s must be in international
// form (a leading + or 00) of digits; spaces, dashes, dots and brackets
// are dropped.
// It reports false for anything that is not a possible number.
func Normalize(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") || len(s) > 32 {
		return "", false
	}
	// Letters would be read as a vanity number (1-800-FLOWERS); a WhatsApp
	// address never has them, so they are a typo here.
	if strings.IndexFunc(s[1:], func(r rune) bool { return !strings.ContainsRune("0123456789 -.()", r) }) >= 0 {
		return "", false
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return "", false
	}
	return phonenumbers.Format(num, phonenumbers.E164), true
}
