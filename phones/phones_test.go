package phones

import "testing"

var normalizeTests = []struct {
	in, want string
	ok       bool
}{
	{"+14155550123", "+14155550123", true},
	{"+1 (415) 555-0123", "+14155550123", true},
	{"0044 20 7946 0958", "+442079460958", true},
	{"+1 555 010 1234", "+15550101234", true},
	{"4155550123", "", false},
	{"+1", "", false},
	{"+12", "", false},
	{"hello", "", false},
	{"+1 800 FLOWERS", "", false},
	{"+1 415 555 0123 ext. 5", "", false},
	{"+999 1234567", "", false},
	{"", "", false},
}

func TestNormalize(t *testing.T) {
	for _, tt := range normalizeTests {
		got, ok := Normalize(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
