package apiws

import (
	"errors"
	"fmt"
	"time"
)

// ErrorCode classifies an Error. Codes that are also UserErrorCodes of the
// schema describe a problem with the caller's input; the others become a
// GraphQL error with the code in extensions.code.
type ErrorCode string

// Input problems: reported as userErrors, nothing changed.
const (
	EINVALID           ErrorCode = "INVALID"
	ENOTFOUND          ErrorCode = "NOT_FOUND"
	ETAKEN             ErrorCode = "TAKEN"
	ETOOYOUNG          ErrorCode = "TOO_YOUNG"
	EPOLICYNOTACCEPTED ErrorCode = "POLICY_NOT_ACCEPTED"
	EWRONGCREDENTIALS  ErrorCode = "WRONG_CREDENTIALS"
	ERESTRICTED        ErrorCode = "RESTRICTED"
	EQUOTAEXCEEDED     ErrorCode = "QUOTA_EXCEEDED"
	ENOTCONNECTED      ErrorCode = "NOT_CONNECTED"
	ECONFLICT          ErrorCode = "CONFLICT"
	EEXPIRED           ErrorCode = "EXPIRED"
)

// Request problems: reported as GraphQL errors with extensions.code.
const (
	EUNAUTHENTICATED ErrorCode = "UNAUTHENTICATED"
	EFORBIDDEN       ErrorCode = "FORBIDDEN"
	ERATELIMITED     ErrorCode = "RATE_LIMITED"
	ECOMPLEXITY      ErrorCode = "COMPLEXITY_LIMIT"
	EBADREQUEST      ErrorCode = "BAD_REQUEST" // an argument with no payload to report it in: a malformed cursor, a list too long
	EUNAVAILABLE     ErrorCode = "UNAVAILABLE"
	EINTERNAL        ErrorCode = "INTERNAL"

	// EDOCUMENTNOTALLOWED: the server runs only trusted documents and the
	// request's is not one of them.
	EDOCUMENTNOTALLOWED ErrorCode = "DOCUMENT_NOT_ALLOWED"
)

// IsUserError reports whether c describes the caller's input, which the API
// reports in a payload's userErrors rather than as a GraphQL error.
func (c ErrorCode) IsUserError() bool {
	switch c {
	case EINVALID, ENOTFOUND, ETAKEN, ETOOYOUNG, EPOLICYNOTACCEPTED, EWRONGCREDENTIALS,
		ERESTRICTED, EQUOTAEXCEEDED, ENOTCONNECTED, ECONFLICT, EEXPIRED:
		return true
	}
	return false
}

// Error is the one error type of apiws's domain. Its Message is safe to show
// to the caller; anything that is not an *Error is shown as "internal error".
type Error struct {
	Code    ErrorCode
	Message string
	// Field is the input path at fault, e.g. ["input", "to"]; nil when the
	// error is not about one field.
	Field []string
	// RetryAfter goes with ERATELIMITED: how long until a retry can pass.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("apiws error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an *Error about one input field.
func FieldError(code ErrorCode, field []string, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err: the *Error's own
// message, or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Errors holds several input problems found at once; every one is reported
// as a userError.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	return es[0].Error()
}

// Unwrap lets errors.As find the first *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
