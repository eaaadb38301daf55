package accounts

import (
	"strings"
	"testing"
)

func TestNewTokenIsWellFormed(t *testing.T) {
	for _, prefix := range []string{apiKeyPrefix, sessionPrefix, operatorPrefix} {
		tok := newToken(prefix)
		if got := tokenKind(tok); got != prefix {
			t.Errorf("tokenKind(newToken(%q)) = %q", prefix, got)
		}
		if len(tok) != len(prefix)+randomLen+checksumLen {
			t.Errorf("newToken(%q) is %d characters long", prefix, len(tok))
		}
	}
	seen := map[string]bool{}
	for range 100 {
		tok := newToken(apiKeyPrefix)
		if seen[tok] {
			t.Fatalf("token %s made twice", tok)
		}
		seen[tok] = true
	}
}

var tokenKindTests = []struct {
	name, tok, want string
}{
	{"API key", key32("apiws_", "0"), apiKeyPrefix},
	{"session", key32("apiwss_", "0"), sessionPrefix},
	{"operator key", key32("apiwsop_", "0"), operatorPrefix},
	{"empty", "", ""},
	{"unknown prefix", key32("apiwx_", "0"), ""},
	{"prefix only", "apiws_", ""},
	{"one character short", key32("apiws_", "0")[1:], ""},
	{"one character long", key32("apiws_", "0") + "0", ""},
	{"a character outside base62", strings.Replace(key32("apiws_", "0"), "0", "-", 1), ""},
	{"wrong checksum", key32("apiws_", "0")[:len(key32("apiws_", "0"))-1] + "x", ""},
	{"a changed body", "apiws_1" + key32("apiws_", "0")[len("apiws_")+1:], ""},
	{"a session's body under the API key prefix", "apiws_" + key32("apiwss_", "0")[len("apiwss_"):], ""},
}

// key32 is prefix, 32 times fill, and the checksum of that.
func key32(prefix, fill string) string {
	body := prefix + strings.Repeat(fill, randomLen)
	return body + checksum(body)
}

func TestTokenKind(t *testing.T) {
	for _, tt := range tokenKindTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokenKind(tt.tok); got != tt.want {
				t.Fatalf("tokenKind(%q) = %q; want %q", tt.tok, got, tt.want)
			}
		})
	}
}

// checksumTests: CRC-32 (IEEE) of the body in six base62 digits, most
// significant first (worked out apart, with Python's zlib.crc32).
var checksumTests = []struct{ body, want string }{
	{"", "000000"},
	{"a", "4GEHKN"},           // 0xe8b7be43
	{"apiws_", "1pSfFf"},      // 0x63ee3d9f
	{"hello world", "0F5VY5"}, // 0x0d4a1185
}

func TestChecksum(t *testing.T) {
	for _, tt := range checksumTests {
		if got := checksum(tt.body); got != tt.want {
			t.Errorf("checksum(%q) = %q; want %q", tt.body, got, tt.want)
		}
	}
}
