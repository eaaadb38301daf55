package apiws

import (
	"strings"
	"unicode/utf8"
)

// Longest client-chosen strings apiws stores with a call or a session, in
// bytes; longer ones are cut (TruncateText).
const (
	MaxUserAgentBytes     = 512
	MaxOperationNameBytes = 128
)

// TruncateText makes a client-chosen string fit to store: valid UTF-8 (an
// invalid byte becomes U+FFFD), no NUL (neither PostgreSQL's text nor most
// readers take it), and at most max bytes, cut before a character that
// would not fit.
func TruncateText(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
