package jwt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config says what a [Verifier] accepts. Fields marked required must be
// set; the zero value of every other field selects the documented default.
type Config struct {
	// Keys finds the verification key by the header's kid. Exactly one of
	// Keys and KeyFromHeader must be set.
	Keys KeySet
	// KeyFromHeader verifies with the public key in the header's jwk
	// parameter (RFC 9449 §4.2, DPoP proofs); a private or symmetric key
	// there refuses the token. The key that verified is [Token].Key, whose
	// [Key.Thumbprint] the caller binds to.
	KeyFromHeader bool
	// HeaderKey, with KeyFromHeader, parses the header's jwk; nil means
	// [ParseJWK]. A caller that sees the same key in many tokens (a DPoP
	// client signs every proof with one key) may cache what ParseJWK
	// returns for the same bytes; it must refuse what ParseJWK refuses.
	HeaderKey func(jwk []byte) (*Key, error)

	// Types lists the accepted typ header values, compared
	// case-insensitively with an optional "application/" prefix (RFC 7515
	// §4.1.9); "" in the list accepts a header without typ. For example
	// {"at+jwt"} for RFC 9068 access tokens, {"dpop+jwt"} for DPoP proofs.
	// Required unless AnyType is set.
	Types []string
	// AnyType accepts any typ, or none. Only for tokens of a kind that has
	// no typ of its own (RFC 7523 client assertions, tokens of other
	// issuers), whose iss, aud and keys tell them apart.
	AnyType bool

	// Algorithms is the allow-list of signature algorithms; empty means
	// every one of [Algorithms]. Only asymmetric algorithms are supported.
	Algorithms []string

	// Issuer, when set, is the exact iss a token must carry.
	Issuer string
	// Audience, when set, lists acceptable audiences: aud must contain at
	// least one of them.
	Audience []string
	// Require names the registered claims that must be present (see the
	// Claim constants): an access token requires iss, sub, exp, iat and jti
	// (RFC 9068 §2.2); a DPoP proof jti and iat (RFC 9449 §4.2). exp, nbf
	// and iat are checked whenever present, required or not.
	Require []string
	// MaxAge, when positive, refuses a token whose iat is older than MaxAge
	// (plus Leeway), and one without iat: the freshness window of DPoP
	// proofs and one-time assertions.
	MaxAge time.Duration

	// Leeway is the clock skew allowed on exp, nbf and iat; zero means 30
	// s, negative means none. At most 5 minutes.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBytes bounds the token's size; zero means DefaultMaxBytes.
	MaxBytes int
}

// Verifier verifies tokens against one [Config]. It is immutable and safe
// for concurrent use; build one per kind of token and reuse it.
type Verifier struct {
	cfg   Config
	types []string // lower-case, without "application/"
}

// NewVerifier returns a verifier for cfg, or an error naming every problem
// with it.
func NewVerifier(cfg Config) (*Verifier, error) {
	var problems []string
	if (cfg.Keys == nil) == !cfg.KeyFromHeader {
		problems = append(problems, "set exactly one of Keys and KeyFromHeader")
	}
	if cfg.HeaderKey != nil && !cfg.KeyFromHeader {
		problems = append(problems, "HeaderKey needs KeyFromHeader")
	}
	if len(cfg.Types) == 0 && !cfg.AnyType {
		problems = append(problems, `Types is required (list "" to accept a token without typ), or set AnyType`)
	}
	if len(cfg.Types) > 0 && cfg.AnyType {
		problems = append(problems, "Types and AnyType exclude each other")
	}
	v := &Verifier{}
	for _, t := range cfg.Types {
		v.types = append(v.types, normalType(t))
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = Algorithms()
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	for _, a := range cfg.Algorithms {
		if !supported(a) {
			problems = append(problems, fmt.Sprintf("algorithm %q is not supported", a))
		}
	}
	cfg.Audience = slices.Clone(cfg.Audience)
	cfg.Require = slices.Clone(cfg.Require)
	for _, c := range cfg.Require {
		if !slices.Contains(registeredClaims, c) {
			problems = append(problems, fmt.Sprintf("Require: %q is not a registered claim", c))
		}
	}
	if cfg.MaxAge < 0 {
		problems = append(problems, "MaxAge must not be negative")
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = 30 * time.Second
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	case cfg.Leeway > 5*time.Minute:
		problems = append(problems, "Leeway must be at most 5m")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxBytes < 0 {
		problems = append(problems, "MaxBytes must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("jwt: invalid verifier config: %s", strings.Join(problems, "; "))
	}
	v.cfg = cfg
	return v, nil
}

// normalType lower-cases a typ and drops an "application/" prefix, the
// comparison RFC 7515 §4.1.9 and RFC 8725 §3.11 ask for.
func normalType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// Token is a verified token.
type Token struct {
	Header Header
	Claims Claims
	// Payload is the JSON claims set as signed; read other claims from it
	// with Decode.
	Payload []byte
	// Key is the key that verified the signature.
	Key *Key
}

// Decode reads the token's claims set into v, a pointer to a struct such
// as wire.Claims or one of the caller's own.
func (t *Token) Decode(v any) error {
	if err := json.Unmarshal(t.Payload, v); err != nil {
		return refuse(ErrMalformed, "claims: %v", err)
	}
	return nil
}

// Verify checks raw, a compact JWS, in this order: size and form; alg in
// the allow-list; typ; the key (by kid from Keys, or the header's jwk) and
// that it fits alg; the signature; then the claims: required ones present,
// iss, aud, and exp/nbf/iat/MaxAge against the clock with the leeway.
// Claims are decoded only once the signature holds. Errors match
// [ErrInvalid] and a more precise sentinel, except errors of the KeySet
// (a key fetch that failed), which are passed on.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Token, error) {
	p, err := parse(raw, v.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	h := &p.header
	if !slices.Contains(v.cfg.Algorithms, h.Algorithm) {
		return nil, refuse(ErrAlgorithm, "alg %q", h.Algorithm)
	}
	if !v.cfg.AnyType && !slices.Contains(v.types, normalType(h.Type)) {
		return nil, refuse(ErrType, "typ %q", h.Type)
	}
	key, err := v.key(ctx, h)
	if err != nil {
		return nil, err
	}
	if !key.usableFor(h.Algorithm) {
		return nil, refuse(ErrKeyMismatch, "key %q cannot verify %s", key.ID, h.Algorithm)
	}
	if !verifySignature(h.Algorithm, key.Public, []byte(p.signingInput), p.signature) {
		return nil, refuse(ErrSignature, "key %q", key.ID)
	}
	t := &Token{Header: *h, Payload: p.payload, Key: key}
	if b := bytes.TrimLeft(p.payload, " \t\r\n"); len(b) == 0 || b[0] != '{' {
		return nil, refuse(ErrMalformed, "claims: not a JSON object")
	}
	if err := json.Unmarshal(p.payload, &t.Claims); err != nil {
		return nil, refuse(ErrMalformed, "claims: %v", err)
	}
	if err := v.checkClaims(&t.Claims); err != nil {
		return nil, err
	}
	return t, nil
}

// key returns the key to verify with.
func (v *Verifier) key(ctx context.Context, h *Header) (*Key, error) {
	if v.cfg.KeyFromHeader {
		if h.JWK == nil {
			return nil, refuse(ErrUnknownKey, "no jwk header")
		}
		var k *Key
		var err error
		if v.cfg.HeaderKey != nil {
			k, err = v.cfg.HeaderKey(h.JWK)
		} else {
			k, err = ParseJWK(h.JWK)
		}
		if err != nil {
			return nil, refuse(ErrUnknownKey, "jwk header: %v", err)
		}
		return k, nil
	}
	k, err := v.cfg.Keys.Key(ctx, h.KeyID)
	if err != nil {
		if errors.Is(err, ErrInvalid) {
			return nil, err
		}
		return nil, fmt.Errorf("jwt: key %q: %w", h.KeyID, err)
	}
	if k == nil {
		return nil, refuse(ErrUnknownKey, "kid %q", h.KeyID)
	}
	return k, nil
}
