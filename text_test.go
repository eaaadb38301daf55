package apiws

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var truncateTextTests = []struct {
	name, in string
	max      int
	want     string
}{
	{"short", "curl/8.5", 512, "curl/8.5"},
	{"exactly max", "abcd", 4, "abcd"},
	{"cut", "abcdef", 4, "abcd"},
	{"before a 2-byte character", "abcé", 4, "abc"},
	{"before a 4-byte character", "a😀", 4, "a"},
	{"after a 4-byte character", "😀b", 4, "😀"},
	{"invalid bytes", "a\xffb", 512, "a\uFFFDb"},
	{"invalid byte at the cut", "abc\xff", 4, "abc"},
	{"NUL", "a\x00b", 512, "ab"},
	{"empty", "", 512, ""},
}

func TestTruncateText(t *testing.T) {
	for _, c := range truncateTextTests {
		t.Run(c.name, func(t *testing.T) {
			got := TruncateText(c.in, c.max)
			if got != c.want || !utf8.ValidString(got) || len(got) > c.max {
				t.Fatalf("TruncateText(%q, %d) = %q; want %q", c.in, c.max, got, c.want)
			}
		})
	}
	big := strings.Repeat("é", 900*1024/2) + "x"
	if got := TruncateText(big, MaxUserAgentBytes); len(got) != MaxUserAgentBytes || !utf8.ValidString(got) {
		t.Fatalf("900 KB cut to %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
