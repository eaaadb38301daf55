package phones

import (
	"fmt"
	"testing"
)

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

// Asked twice, Normalize answers the same: the second answer comes from
// what it remembers.
func TestNormalize(t *testing.T) {
	for range 2 {
		for _, tt := range normalizeTests {
			got, ok := Normalize(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		}
	}
}

// Phones asked about once each do not grow what Normalize remembers past
// its bound.
func TestNormalizeRemembersBoundedly(t *testing.T) {
	for i := range 3 * remembered {
		if _, ok := Normalize(fmt.Sprintf("+4420%08d", i)); !ok {
			t.Fatalf("Normalize of phone %d refused", i)
		}
	}
	if n := answered.Len(); n > remembered {
		t.Fatalf("%d answers remembered; want at most %d", n, remembered)
	}
}

func BenchmarkNormalize(b *testing.B) {
	for _, tt := range []struct{ name, phone string }{{"again", "+1 (415) 555-0123"}, {"new", ""}} {
		b.Run(tt.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				phone := tt.phone
				if phone == "" {
					i++
					phone = fmt.Sprintf("+4420%08d", i)
				}
				Normalize(phone)
			}
		})
	}
}
