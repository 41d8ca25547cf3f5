package jwt

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Registered claim names (RFC 7519 §4.1), for [Config].Require.
const (
	ClaimIssuer    = "iss"
	ClaimSubject   = "sub"
	ClaimAudience  = "aud"
	ClaimExpiry    = "exp"
	ClaimNotBefore = "nbf"
	ClaimIssuedAt  = "iat"
	ClaimID        = "jti"
)

var registeredClaims = []string{ClaimIssuer, ClaimSubject, ClaimAudience, ClaimExpiry, ClaimNotBefore, ClaimIssuedAt, ClaimID}

// Claims are the registered claims of a token (RFC 7519 §4.1). Other
// claims are read from [Token].Payload with [Token.Decode].
type Claims struct {
	Issuer    string        `json:"iss,omitempty"`
	Subject   string        `json:"sub,omitempty"`
	Audience  wire.Audience `json:"aud,omitempty"`
	Expiry    NumericDate   `json:"exp,omitempty"`
	NotBefore NumericDate   `json:"nbf,omitempty"`
	IssuedAt  NumericDate   `json:"iat,omitempty"`
	ID        string        `json:"jti,omitempty"`
}

// has reports whether the claim named name is present (non-empty).
func (c *Claims) has(name string) bool {
	switch name {
	case ClaimIssuer:
		return c.Issuer != ""
	case ClaimSubject:
		return c.Subject != ""
	case ClaimAudience:
		return len(c.Audience) > 0
	case ClaimExpiry:
		return c.Expiry != 0
	case ClaimNotBefore:
		return c.NotBefore != 0
	case ClaimIssuedAt:
		return c.IssuedAt != 0
	case ClaimID:
		return c.ID != ""
	}
	return false
}

// NumericDate is seconds since the Unix epoch (RFC 7519 §2); zero means
// absent. A fractional value is truncated toward zero; a negative or
// non-numeric one is refused.
type NumericDate int64

// Time returns d as a time, the zero time when d is zero.
func (d NumericDate) Time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(int64(d), 0)
}

// UnmarshalJSON reads a JSON number (null is absent).
func (d *NumericDate) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*d = 0
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil && n >= 0 {
		*d = NumericDate(n)
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f >= math.MaxInt64 || math.IsNaN(f) {
		return errors.New("jwt: a date claim must be a non-negative number of seconds")
	}
	*d = NumericDate(f)
	return nil
}

// checkClaims applies cfg's claim rules to c at now.
func (v *Verifier) checkClaims(c *Claims) error {
	for _, name := range v.cfg.Require {
		if !c.has(name) {
			return refuse(ErrClaims, "no %s", name)
		}
	}
	if v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer {
		return refuse(ErrClaims, "iss %q is not %q", c.Issuer, v.cfg.Issuer)
	}
	if len(v.cfg.Audience) > 0 && !slices.ContainsFunc(v.cfg.Audience, c.Audience.Contains) {
		return refuse(ErrClaims, "aud %q holds none of %q", []string(c.Audience), v.cfg.Audience)
	}
	return v.CheckTimes(c)
}

// CheckTimes checks exp, nbf and iat (when present) against the verifier's
// clock, leeway and MaxAge. Verify calls it; a cache of verified tokens
// calls it again on every hit, since time moves on while signatures do not.
func (v *Verifier) CheckTimes(c *Claims) error {
	now := v.cfg.Now()
	leeway := v.cfg.Leeway
	switch {
	case c.Expiry != 0 && !now.Before(c.Expiry.Time().Add(leeway)):
		return refuse(ErrExpired, "exp %d", c.Expiry)
	case c.NotBefore != 0 && now.Add(leeway).Before(c.NotBefore.Time()):
		return refuse(ErrNotYetValid, "nbf %d", c.NotBefore)
	case c.IssuedAt != 0 && now.Add(leeway).Before(c.IssuedAt.Time()):
		return refuse(ErrNotYetValid, "iat %d is in the future", c.IssuedAt)
	case v.cfg.MaxAge > 0 && c.IssuedAt == 0:
		return refuse(ErrClaims, "no iat")
	case v.cfg.MaxAge > 0 && now.Sub(c.IssuedAt.Time()) > v.cfg.MaxAge+leeway:
		return refuse(ErrExpired, "iat %d is older than %s", c.IssuedAt, v.cfg.MaxAge)
	}
	return nil
}
