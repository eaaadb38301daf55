package accounts

import (
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
)

const (
	minPasswordLen = 10
	maxPasswordLen = 256
	maxNameLen     = 200
	maxEmailLen    = 254
	maxDetailLen   = 500
)

// validator collects the input problems of one request.
type validator struct{ errs apiws.Errors }

func (v *validator) add(code apiws.ErrorCode, field []string, msg string) {
	v.errs = append(v.errs, &apiws.Error{Code: code, Field: field, Message: msg})
}

func path(p ...string) []string { return append([]string{"input"}, p...) }

func (v *validator) name(s string, field []string) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		v.add(apiws.EINVALID, field, "must not be empty")
	case utf8.RuneCountInString(s) > maxNameLen:
		v.add(apiws.EINVALID, field, "must be at most 200 characters")
	}
	return s
}

func (v *validator) email(s string, field []string) string {
	s = strings.TrimSpace(s)
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || len(s) > maxEmailLen || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		v.add(apiws.EINVALID, field, "is not a valid email address")
	}
	return s
}

func (v *validator) password(s string, field []string) {
	switch n := utf8.RuneCountInString(s); {
	case n < minPasswordLen:
		v.add(apiws.EINVALID, field, "must be at least 10 characters")
	case n > maxPasswordLen:
		v.add(apiws.EINVALID, field, "must be at most 256 characters")
	}
}

// birthDate checks that a birth date is plausible and at least MinimumAge
// years before now.
func (v *validator) birthDate(birth, now time.Time, field []string) {
	switch {
	case birth.After(now) || birth.Year() < 1900:
		v.add(apiws.EINVALID, field, "is not a plausible birth date")
	case !oldEnough(birth, now):
		v.add(apiws.ETOOYOUNG, field, "apiws is not for people under 16")
	}
}

func (v *validator) phone(s *string, field []string) *string {
	if s == nil {
		return nil
	}
	e164, ok := phones.Normalize(*s)
	if !ok {
		v.add(apiws.EINVALID, field, "is not a valid phone number in international form, e.g. +14155550123")
		return nil
	}
	return &e164
}

func (v *validator) business(b *apiws.BusinessDetails) *apiws.BusinessDetails {
	if b == nil {
		return nil
	}
	out := &apiws.BusinessDetails{}
	text := func(s *string, name string) *string {
		if s == nil {
			return nil
		}
		t := strings.TrimSpace(*s)
		if utf8.RuneCountInString(t) > maxDetailLen {
			v.add(apiws.EINVALID, path("business", name), "must be at most 500 characters")
		}
		if t == "" {
			return nil
		}
		return &t
	}
	out.Name = text(b.Name, "name")
	out.VatID = text(b.VatID, "vatId")
	out.Address = text(b.Address, "address")
	if out.Website = text(b.Website, "website"); out.Website != nil {
		u, err := url.Parse(*out.Website)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(apiws.EINVALID, path("business", "website"), "must be an http(s) URL")
		}
	}
	if out.Country = text(b.Country, "country"); out.Country != nil {
		c := strings.ToUpper(*out.Country)
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			v.add(apiws.EINVALID, path("business", "country"), "must be an ISO 3166-1 alpha-2 code, e.g. DE")
		}
		out.Country = &c
	}
	if out.Empty() {
		return nil
	}
	return out
}
