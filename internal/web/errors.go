package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Error is an error with a safe, client-facing form. Each field has one
// meaning, and only Status, Code, Description, Header and Extra reach the
// client.
type Error struct {
	Status int    // the HTTP status
	Code   string // the body's "error"
	// Description is the body's "error_description": safe text for the
	// caller, never secrets or internals. It is the only way to set it.
	Description string
	Header      http.Header // response headers (WWW-Authenticate, Retry-After)
	// Extra holds the body's other members (locked_until, required_scopes,
	// details, ...), added with With; never "error" or "error_description".
	Extra map[string]any
	Err   error // the internal cause, for the log only
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Description, e.Err)
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }

// WithHeader sets a response header on e and returns e.
func (e *Error) WithHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = make(http.Header)
	}
	e.Header.Set(key, value)
	return e
}

// With adds a body member to e and returns e. The error code and
// description have fields of their own: naming them here is a programming
// error, and With panics rather than let one silently replace the other.
func (e *Error) With(key string, value any) *Error {
	if key == "error" || key == "error_description" {
		panic("web: " + key + " is set by Error.Code and Error.Description, not With")
	}
	if e.Extra == nil {
		e.Extra = make(map[string]any)
	}
	e.Extra[key] = value
	return e
}

// Errorf builds an *Error with a formatted safe description.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Description: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 invalid_request.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, wire.ErrInvalidRequest, format, args...)
}

// Invalid is the 422 validation_error of the original /api/v1.
func Invalid(format string, args ...any) *Error {
	return Errorf(http.StatusUnprocessableEntity, wire.ErrValidation, format, args...)
}

// NotFound is a 404 not_found naming what was missing.
func NotFound(what string) *Error {
	return Errorf(http.StatusNotFound, wire.ErrNotFound, "%s not found", what)
}

// Conflict is a 409 conflict.
func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, wire.ErrConflict, format, args...)
}

// Forbidden is a 403 with the given code.
func Forbidden(code, format string, args ...any) *Error {
	return Errorf(http.StatusForbidden, code, format, args...)
}

// Unauthorized is a 401 invalid_token with the RFC 6750 challenge. When no
// credential was presented, RFC 6750 §3.1 says the challenge carries no
// error code.
func Unauthorized(realm string, presented bool, description string) *Error {
	e := Errorf(http.StatusUnauthorized, wire.ErrInvalidToken, "%s", description)
	if presented {
		return e.WithHeader("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q, error="invalid_token"`, realm))
	}
	return e.WithHeader("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q`, realm))
}

// TooManyRequests is a 429 with Retry-After in whole seconds (at least 1).
func TooManyRequests(retryAfterSeconds int) *Error {
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	return Errorf(http.StatusTooManyRequests, wire.ErrRateLimitExceeded, "Too many requests; retry after %d seconds", retryAfterSeconds).
		WithHeader("Retry-After", strconv.Itoa(retryAfterSeconds)).
		With("retry_after", retryAfterSeconds)
}

// Unavailable is a 503 temporarily_unavailable, for a database that is down.
func Unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: wire.ErrTemporarilyUnavailable,
		Description: "The service is temporarily unavailable; retry shortly", Err: err, Header: http.Header{"Retry-After": {"1"}}}
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// QuoteList renders client-supplied values for an error message: each
// quoted with control and non-graphic characters escaped, each cut at 64
// bytes, at most max of them, so echoing input can neither forge text nor
// grow a response without bound.
func QuoteList(l []string, max int) string {
	var b strings.Builder
	for i, s := range l {
		if i == max {
			b.WriteString(", ...")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(s) > 64 {
			s = s[:64] + "..."
		}
		b.WriteString(strconv.QuoteToGraphic(s))
	}
	return b.String()
}
