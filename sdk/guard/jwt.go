package guard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// header is the JOSE header of a JWS in compact serialization (RFC 7515).
type header struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ"`
	Kid  string   `json:"kid"`
	Crit []string `json:"crit"`
}

var b64 = base64.RawURLEncoding

// invalid returns an error wrapping ErrInvalidToken with a log detail.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// verifyJWT checks a JWT access token (RFC 9068) and returns its claims.
func (g *Guard) verifyJWT(ctx context.Context, raw string) (*wire.Claims, error) {
	h, payload, signed, sig, err := split(raw)
	if err != nil {
		return nil, err
	}
	var hdr header
	if err := json.Unmarshal(h, &hdr); err != nil {
		return nil, invalid("header: %v", err)
	}
	if !isAccessTokenType(hdr.Typ) {
		return nil, invalid("typ %q is not at+jwt", hdr.Typ)
	}
	if !slices.Contains(g.cfg.Algorithms, hdr.Alg) {
		return nil, invalid("alg %q is not allowed", hdr.Alg)
	}
	if len(hdr.Crit) > 0 {
		return nil, invalid("unsupported critical header %v", hdr.Crit)
	}
	if hdr.Kid == "" {
		return nil, invalid("no kid")
	}
	key, err := g.keys.get(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	if !key.usableFor(hdr.Alg) {
		return nil, invalid("key %q does not fit alg %s", hdr.Kid, hdr.Alg)
	}
	if !verifySignature(key, hdr.Alg, signed, sig) {
		return nil, invalid("bad signature")
	}
	var c wire.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalid("claims: %v", err)
	}
	if err := g.checkClaims(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// split cuts a compact JWS into its decoded header, decoded payload, signing
// input and decoded signature.
func split(raw string) (h, payload []byte, signed string, sig []byte, err error) {
	i := strings.IndexByte(raw, '.')
	j := strings.LastIndexByte(raw, '.')
	if i < 0 || i == j || strings.IndexByte(raw[i+1:j], '.') >= 0 {
		return nil, nil, "", nil, invalid("not a compact JWS")
	}
	if h, err = b64.DecodeString(raw[:i]); err != nil {
		return nil, nil, "", nil, invalid("header encoding")
	}
	if payload, err = b64.DecodeString(raw[i+1 : j]); err != nil {
		return nil, nil, "", nil, invalid("payload encoding")
	}
	if sig, err = b64.DecodeString(raw[j+1:]); err != nil {
		return nil, nil, "", nil, invalid("signature encoding")
	}
	return h, payload, raw[:j], sig, nil
}

// isAccessTokenType reports whether typ names an RFC 9068 access token.
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, wire.AccessTokenJWTType) ||
		strings.EqualFold(typ, "application/"+wire.AccessTokenJWTType)
}

// verifySignature checks sig over signed with key for alg (RFC 7518 §3).
func verifySignature(key *verifyKey, alg, signed string, sig []byte) bool {
	switch alg {
	case ES256:
		if len(sig) != 64 {
			return false
		}
		d := sha256.Sum256([]byte(signed))
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(key.ec, d[:], r, s)
	case EdDSA:
		return ed25519.Verify(key.ed, []byte(signed), sig)
	case RS256:
		d := sha256.Sum256([]byte(signed))
		return rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, d[:], sig) == nil
	}
	return false
}

// checkClaims checks the registered claims RFC 9068 §2.2 requires, against
// the guard's issuer and clock; the caller checks the audience.
func (g *Guard) checkClaims(c *wire.Claims) error {
	now := g.cfg.Now()
	leeway := g.cfg.Leeway
	switch {
	case c.Issuer != g.cfg.Issuer:
		return invalid("iss %q", c.Issuer)
	case c.Expiry == 0:
		return invalid("no exp")
	case !now.Before(time.Unix(c.Expiry, 0).Add(leeway)):
		return invalid("expired")
	case c.NotBefore != 0 && now.Add(leeway).Before(time.Unix(c.NotBefore, 0)):
		return invalid("not yet valid")
	case c.IssuedAt == 0:
		return invalid("no iat")
	case now.Add(leeway).Before(time.Unix(c.IssuedAt, 0)):
		return invalid("issued in the future")
	case c.ID == "":
		return invalid("no jti")
	case c.Subject == "":
		return invalid("no sub")
	}
	normalizeScopes(c)
	return nil
}

// normalizeScopes fills whichever of scope and scopes the issuer left out,
// so accessors and requirements see one list.
func normalizeScopes(c *wire.Claims) {
	switch {
	case len(c.Scopes) == 0 && c.Scope != "":
		c.Scopes = strings.Fields(c.Scope)
	case c.Scope == "" && len(c.Scopes) > 0:
		c.Scope = strings.Join(c.Scopes, " ")
	}
}
