package accounts

import (
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
)

// problems lists a validator's errors as "CODE@field.path".
func problems(v *validator) []string {
	var out []string
	for _, e := range v.errs {
		out = append(out, string(e.Code)+"@"+strings.Join(e.Field, "."))
	}
	return out
}

func TestValidateName(t *testing.T) {
	tests := []struct{ in, want, problem string }{
		{"Ann Example", "Ann Example", ""},
		{"  Ann  ", "Ann", ""},
		{"", "", "INVALID@input.name"},
		{" \t\n", "", "INVALID@input.name"},
		{strings.Repeat("é", 200), strings.Repeat("é", 200), ""}, // runes, not bytes
		{strings.Repeat("x", 201), strings.Repeat("x", 201), "INVALID@input.name"},
	}
	for _, tt := range tests {
		var v validator
		got := v.name(tt.in, path("name"))
		if got != tt.want || strings.Join(problems(&v), ",") != tt.problem {
			t.Errorf("name(%q) = %q, %v; want %q, %q", tt.in, got, problems(&v), tt.want, tt.problem)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	local64 := strings.Repeat("a", 64)
	tests := []struct {
		in string
		ok bool
	}{
		{"ann@example.com", true},
		{"  ann@example.com ", true},
		{"ann.o'neil+tag@sub.example.co.uk", true},
		{"", false},
		{"ann", false},
		{"ann@", false},
		{"@example.com", false},
		{"ann@localhost", false}, // no dot in the domain
		{"Ann <ann@example.com>", false},
		{"ann@example.com, bob@example.com", false},
		{"ann@@example.com", false},
		{local64 + "@" + strings.Repeat("b", 254-len(local64)-5) + ".com", true},
		{local64 + "@" + strings.Repeat("b", 255-len(local64)-5) + ".com", false}, // 255 characters
	}
	for _, tt := range tests {
		var v validator
		got := v.email(tt.in, path("email"))
		if ok := len(v.errs) == 0; ok != tt.ok {
			t.Errorf("email(%q): valid %v, want %v (%v)", tt.in, ok, tt.ok, problems(&v))
		}
		if got != strings.TrimSpace(tt.in) {
			t.Errorf("email(%q) = %q; want it trimmed", tt.in, got)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"", false},
		{"123456789", false},
		{"1234567890", true},
		{strings.Repeat("ü", 10), true}, // runes, not bytes
		{strings.Repeat("ü", 9), false},
		{strings.Repeat("x", 256), true},
		{strings.Repeat("x", 257), false},
	}
	for _, tt := range tests {
		var v validator
		v.password(tt.in, path("password"))
		if ok := len(v.errs) == 0; ok != tt.ok {
			t.Errorf("password of %d characters: valid %v, want %v", len([]rune(tt.in)), ok, tt.ok)
		}
	}
}

func TestValidatePhone(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		in   *string
		want string // "" for nil
		ok   bool
	}{
		{nil, "", true},
		{s("+14155550123"), "+14155550123", true},
		{s("+1 (415) 555-0123"), "+14155550123", true},
		{s("4155550123"), "", false},
		{s("+1 415 CALL NOW"), "", false},
		{s(""), "", false},
	}
	for _, tt := range tests {
		var v validator
		got := v.phone(tt.in, path("phone"))
		gotS := ""
		if got != nil {
			gotS = *got
		}
		if ok := len(v.errs) == 0; ok != tt.ok || gotS != tt.want {
			t.Errorf("phone(%v) = %q, valid %v; want %q, %v", tt.in, gotS, ok, tt.want, tt.ok)
		}
	}
}

func TestValidateBusiness(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name     string
		in       *apiws.BusinessDetails
		want     *apiws.BusinessDetails
		problems string
	}{
		{"none", nil, nil, ""},
		{"all empty", &apiws.BusinessDetails{Name: s(" "), VatID: s("")}, nil, ""},
		{"trimmed", &apiws.BusinessDetails{Name: s(" Shop "), Country: s("de")}, &apiws.BusinessDetails{Name: s("Shop"), Country: s("DE")}, ""},
		{"website", &apiws.BusinessDetails{Website: s("https://shop.example")}, &apiws.BusinessDetails{Website: s("https://shop.example")}, ""},
		{"website without scheme", &apiws.BusinessDetails{Website: s("shop.example")}, nil, "INVALID@input.business.website"},
		{"website of another scheme", &apiws.BusinessDetails{Website: s("ftp://shop.example")}, nil, "INVALID@input.business.website"},
		{"country of three letters", &apiws.BusinessDetails{Country: s("DEU")}, nil, "INVALID@input.business.country"},
		{"country with a digit", &apiws.BusinessDetails{Country: s("D1")}, nil, "INVALID@input.business.country"},
		{"address too long", &apiws.BusinessDetails{Address: s(strings.Repeat("a", 501))}, nil, "INVALID@input.business.address"},
		{"two problems", &apiws.BusinessDetails{VatID: s(strings.Repeat("v", 501)), Country: s("x")}, nil, "INVALID@input.business.vatId,INVALID@input.business.country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v validator
			got := v.business(tt.in)
			if p := strings.Join(problems(&v), ","); p != tt.problems {
				t.Fatalf("problems %q; want %q", p, tt.problems)
			}
			if tt.problems == "" && !sameBusiness(got, tt.want) {
				t.Fatalf("business = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func sameBusiness(a, b *apiws.BusinessDetails) bool {
	if a == nil || b == nil {
		return a == b
	}
	eq := func(x, y *string) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return eq(a.Name, b.Name) && eq(a.Website, b.Website) && eq(a.Country, b.Country) && eq(a.VatID, b.VatID) && eq(a.Address, b.Address)
}

func TestOldEnough(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		name       string
		birth, now time.Time
		ok         bool
	}{
		{"on the 16th birthday", day(2000, 6, 15), day(2016, 6, 15), true},
		{"the day before", day(2000, 6, 15), day(2016, 6, 14), false},
		{"the last moment of the day before", day(2000, 6, 15), day(2016, 6, 15).Add(-time.Nanosecond), false},
		{"long after", day(1950, 1, 1), day(2026, 1, 1), true},
		{"born 29 February, on 28 February", day(2004, 2, 29), day(2020, 2, 28), false},
		{"born 29 February, on 29 February", day(2004, 2, 29), day(2020, 2, 29), true},
		// 2100 is no leap year: the birthday falls on 1 March.
		{"born 29 February 2084, on 28 February 2100", day(2084, 2, 29), day(2100, 2, 28), false},
		{"born 29 February 2084, on 1 March 2100", day(2084, 2, 29), day(2100, 3, 1), true},
		{"a birth time late in the day", day(2000, 6, 15).Add(23 * time.Hour), day(2016, 6, 15), true},
		{"a birth date in another zone counts in UTC", time.Date(2000, 6, 16, 1, 0, 0, 0, time.FixedZone("+02", 2*3600)), day(2016, 6, 15), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oldEnough(tt.birth, tt.now); got != tt.ok {
				t.Fatalf("oldEnough(%v, %v) = %v; want %v", tt.birth, tt.now, got, tt.ok)
			}
		})
	}
}

func TestValidateBirthDate(t *testing.T) {
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		birth   time.Time
		problem string
	}{
		{"an adult", time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), ""},
		{"16 today", time.Date(2010, 6, 15, 0, 0, 0, 0, time.UTC), ""},
		{"16 tomorrow", time.Date(2010, 6, 16, 0, 0, 0, 0, time.UTC), "TOO_YOUNG@input.birthDate"},
		{"a child", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), "TOO_YOUNG@input.birthDate"},
		{"born later today", now.Add(time.Hour), "INVALID@input.birthDate"},
		{"born next year", now.AddDate(1, 0, 0), "INVALID@input.birthDate"},
		{"born in 1900", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"born before 1900", time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), "INVALID@input.birthDate"},
		{"no date (the zero time)", time.Time{}, "INVALID@input.birthDate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v validator
			v.birthDate(tt.birth, now, path("birthDate"))
			if got := strings.Join(problems(&v), ","); got != tt.problem {
				t.Fatalf("birthDate(%v) problems %q; want %q", tt.birth, got, tt.problem)
			}
		})
	}
}
