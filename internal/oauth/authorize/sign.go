package authorize

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Purposes separate the uses of the one HMAC key, so a value signed for
// one purpose can never be replayed as another.
const (
	purposeCSRF    = "permiso authorize csrf\x00"
	purposePending = "permiso authorize pending\x00"
)

var errBadSignature = errors.New("bad signature")

// signer signs and verifies the values the login form carries.
type signer struct{ key []byte }

func (s signer) mac(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		// Length-prefix each part so ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(m, "%d:%s", len(p), p)
	}
	return m.Sum(nil)
}

// newCSRFCookie returns a fresh random cookie value (256 bits).
func newCSRFCookie() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// csrfToken is the form field that goes with a CSRF cookie value: an HMAC
// of it, so an attacker who can plant a cookie still cannot produce the
// matching field (the weakness of a plain double-submit cookie).
func (s signer) csrfToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(purposeCSRF, cookie))
}

// checkCSRF compares the form field with the cookie in constant time.
func (s signer) checkCSRF(cookie, field string) bool {
	if cookie == "" || field == "" || len(cookie) > 128 || len(field) > 128 {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(field)
	if err != nil {
		return false
	}
	return hmac.Equal(got, s.mac(purposeCSRF, cookie))
}

// pending is an authorization request waiting for the user to sign in.
// It travels in a hidden form field, signed and bound to the CSRF cookie,
// so the browser can neither alter it nor move it to another browser.
type pending struct {
	Params  authParams `json:"p"`
	Expires int64      `json:"exp"`
}

// sealPending signs p for the browser holding csrfCookie.
func (s signer) sealPending(p pending, csrfCookie string) (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encode pending request: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(b)
	sig := base64.RawURLEncoding.EncodeToString(s.mac(purposePending, body, csrfCookie))
	return body + "." + sig, nil
}

// openPending verifies a sealed request for the browser holding
// csrfCookie and checks that it has not expired at now.
func (s signer) openPending(sealed, csrfCookie string, now time.Time) (pending, error) {
	var p pending
	body, sig, ok := strings.Cut(sealed, ".")
	if !ok {
		return p, errBadSignature
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(purposePending, body, csrfCookie)) {
		return p, errBadSignature
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return p, fmt.Errorf("decode pending request: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode pending request: %w", err)
	}
	if now.Unix() >= p.Expires {
		return p, errExpiredForm
	}
	return p, nil
}

var errExpiredForm = errors.New("login form expired")
