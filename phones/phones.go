// Package phones parses phone numbers into E.164 with libphonenumber's
// rules.
package phones

import (
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/nyaruka/phonenumbers"
)

// answer is what Normalize answers for a phone.
type answer struct {
	e164 string
	ok   bool
}

// answered holds Normalize's answers for the phones it was asked about
// last: senders write to the same recipients again and again, and parsing
// a phone (phonenumbers' regular expressions) was about 6% of apiws's CPU
// per message sent. Bounded, so phones that come once (or an attacker's
// random ones) only push the oldest out.
var answered, _ = lru.New[string, answer](remembered)

// remembered is how many answers Normalize keeps: about 165 bytes each,
// 2.7 MB in all. A least-recently-used cache smaller than the set of
// recipients a sender goes round keeps none of them (4,096 answered none of
// the load tool's 9,000).
const remembered = 16384

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
	if a, ok := answered.Get(s); ok {
		return a.e164, a.ok
	}
	a := parse(s)
	// A copy: s may be part of a larger string, which the key would keep.
	answered.Add(strings.Clone(s), a)
	return a.e164, a.ok
}

// parse is Normalize of s, which has a leading + and at most 32 bytes.
func parse(s string) answer {
	// Letters would be read as a vanity number (1-800-FLOWERS); a WhatsApp
	// address never has them, so they are a typo here.
	if strings.IndexFunc(s[1:], func(r rune) bool { return !strings.ContainsRune("0123456789 -.()", r) }) >= 0 {
		return answer{}
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return answer{}
	}
	return answer{phonenumbers.Format(num, phonenumbers.E164), true}
}
