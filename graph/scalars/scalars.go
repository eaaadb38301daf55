// Package scalars holds the GraphQL encodings of the schema's custom
// scalars: Time and Date as time.Time, PhoneNumber as a string, Cursor as an
// int64. A value a scalar cannot read is the client's mistake: BAD_REQUEST.
package scalars

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/apiws/apiws"
)

const timeLayout = apiws.TimeLayout

// MarshalTime writes t in UTC with milliseconds, e.g. 2026-11-25T19:09:21.123Z.
func MarshalTime(t time.Time) graphql.Marshaler {
	return graphql.MarshalString(t.UTC().Format(timeLayout))
}

// UnmarshalTime reads any RFC 3339 timestamp.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apiws.Errorf(apiws.EBADREQUEST, "a time must be an RFC 3339 string, e.g. 2026-11-25T19:09:21.123Z")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apiws.Errorf(apiws.EBADREQUEST, "a time must be RFC 3339, e.g. 2026-11-25T19:09:21.123Z")
	}
	return t.UTC(), nil
}

// MarshalDate writes YYYY-MM-DD.
func MarshalDate(t time.Time) graphql.Marshaler {
	return graphql.MarshalString(t.UTC().Format(time.DateOnly))
}

// UnmarshalDate reads YYYY-MM-DD.
func UnmarshalDate(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, apiws.Errorf(apiws.EBADREQUEST, "a date must be a YYYY-MM-DD string")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, apiws.Errorf(apiws.EBADREQUEST, "a date must be YYYY-MM-DD")
	}
	return t, nil
}

// MarshalPhoneNumber writes the number as it is stored (E.164).
func MarshalPhoneNumber(s string) graphql.Marshaler { return graphql.MarshalString(s) }

// UnmarshalPhoneNumber reads a number as it was written. Whether it is a
// real number, and its E.164 form, are the service's to judge (by
// phones.Normalize, the one rule set), so a malformed one is a userError on
// its input path, not a parse error.
func UnmarshalPhoneNumber(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", apiws.Errorf(apiws.EBADREQUEST, "a phone number must be a string")
	}
	return s, nil
}

// MarshalCursor writes the cursor as a decimal string.
func MarshalCursor(c int64) graphql.Marshaler { return graphql.MarshalString(strconv.FormatInt(c, 10)) }

// UnmarshalCursor reads a decimal string (or number). Anything else is
// the caller's mistake: BAD_REQUEST.
func UnmarshalCursor(v any) (int64, error) {
	var n int64
	var err error
	switch x := v.(type) {
	case string:
		n, err = strconv.ParseInt(x, 10, 64)
	case json.Number:
		n, err = x.Int64()
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		err = errors.New("not a string")
	}
	if err != nil || n < 0 {
		return 0, apiws.Errorf(apiws.EBADREQUEST, "a cursor must be a decimal integer string")
	}
	return n, nil
}
