package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Body size limits. Every body a client sends is bounded.
const (
	MaxJSONBytes = 64 << 10
	MaxFormBytes = 16 << 10
)

// DecodeJSON reads a JSON object from r into v, refusing unknown fields,
// bodies over MaxJSONBytes, trailing data and other content types. Failures
// are 422 validation_error with a message that names the problem.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json")
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return Invalid("Request body must contain a single JSON object")
	}
	return nil
}

func jsonError(err error) *Error {
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		maxBytes *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return Invalid("Request body is required")
	case errors.As(err, &maxBytes):
		return Errorf(http.StatusRequestEntityTooLarge, wire413, "Request body exceeds %d bytes", maxBytes.Limit)
	case errors.As(err, &syntax):
		return Invalid("Request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return Invalid("Field %q must be of type %s", typeErr.Field, typeErr.Type.String())
		}
		return Invalid("Request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Invalid("Unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return Invalid("Request body is truncated JSON")
	}
	return Invalid("Request body could not be decoded")
}

const wire413 = "request_too_large"

// ParseForm parses an application/x-www-form-urlencoded body bounded by
// MaxFormBytes, refusing repeated parameters (RFC 6749 §3.1) other than
// resource and audience. Query
// parameters are not merged in: credentials belong in the body.
func ParseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost {
		return nil, BadRequest("Use POST")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, BadRequest("Content-Type must be application/x-www-form-urlencoded")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxFormBytes))
	if err != nil {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return nil, BadRequest("Request body exceeds %d bytes", maxBytes.Limit)
		}
		return nil, BadRequest("Request body could not be read")
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, BadRequest("Request body is not valid form encoding")
	}
	for k, v := range form {
		if len(v) > 1 && !repeatable[k] {
			return nil, BadRequest("Parameter %q is repeated", k)
		}
	}
	return form, nil
}

// repeatable are the parameters a token request may send several times:
// resource (RFC 8707 §2) and audience (RFC 8693 §2.1). Their limits are
// the token endpoint's.
var repeatable = map[string]bool{"resource": true, "audience": true}

// Fields describes validation problems collected before answering 422.
type Fields []string

// Addf records a problem.
func (f *Fields) Addf(format string, args ...any) { *f = append(*f, fmt.Sprintf(format, args...)) }

// Err returns nil or a 422 listing every problem.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Invalid("%s", strings.Join(f, "; ")).With("details", []string(f))
}

// PlainText reports whether s is valid UTF-8 without control characters
// (tab, newline and carriage return allowed when newlines is true).
// PostgreSQL refuses NUL and invalid UTF-8 in text, so such input must be
// refused (or not found) before it reaches the store, or a malformed
// request would look like a database failure.
func PlainText(s string, newlines bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c == 0x7f || c < 0x20 && !(newlines && (c == '\n' || c == '\t' || c == '\r')) {
			return false
		}
	}
	return true
}
