package jwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// MaxJWKSKeys bounds the keys [ParseJWKS] keeps from one set.
const MaxJWKSKeys = 100

// Key is a public key that verifies signatures. Create it with [NewKey],
// [ParseJWK] or [ParseJWKS]; it is immutable.
type Key struct {
	// ID is the key's kid; empty when it has none.
	ID string
	// Algorithm is the one algorithm the key verifies when its JWK named
	// one (RFC 7517 §4.4); empty means any allowed algorithm that fits the
	// key's type.
	Algorithm string
	// Public is an *ecdsa.PublicKey, an ed25519.PublicKey or an
	// *rsa.PublicKey.
	Public crypto.PublicKey
}

// NewKey returns a key for pub, bound to alg when alg is not empty. It
// refuses private and symmetric keys, unsupported types, and an alg the
// key does not fit.
func NewKey(id, alg string, pub crypto.PublicKey) (*Key, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey:
	default:
		return nil, fmt.Errorf("jwt: key %q: %T is not a supported public key", id, pub)
	}
	if alg != "" && !supported(alg) {
		return nil, fmt.Errorf("jwt: key %q: algorithm %q is not supported", id, alg)
	}
	if alg != "" && !fits(alg, pub) {
		return nil, fmt.Errorf("jwt: key %q does not fit algorithm %s", id, alg)
	}
	if alg == "" && !fitsAny(pub) {
		return nil, fmt.Errorf("jwt: key %q fits no supported algorithm", id)
	}
	return &Key{ID: id, Algorithm: alg, Public: pub}, nil
}

func fitsAny(pub crypto.PublicKey) bool {
	for _, a := range Algorithms() {
		if fits(a, pub) {
			return true
		}
	}
	return false
}

// usableFor reports whether k may verify a signature made with alg: bound
// to no algorithm or to exactly alg, and of the right type.
func (k *Key) usableFor(alg string) bool {
	return (k.Algorithm == "" || k.Algorithm == alg) && fits(alg, k.Public)
}

// Thumbprint returns the key's RFC 7638 JWK thumbprint (SHA-256,
// base64url), the value DPoP's cnf.jkt carries (RFC 9449 §6.1).
func (k *Key) Thumbprint() (string, error) {
	jwk := jose.JSONWebKey{Key: k.Public}
	sum, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("jwt: thumbprint: %w", err)
	}
	if len(sum) != sha256.Size {
		return "", errors.New("jwt: thumbprint has the wrong size")
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// KeySet finds the key named by a token's kid. [Set] is the static
// implementation; a set fetched from a jwks_uri and refreshed on an unknown
// kid implements it too (sdk/guard does). Key must return an error
// wrapping [ErrUnknownKey] when no key is named kid (kid is empty when the
// token's header has none), and may return other errors (a fetch that
// failed), which the verifier passes on unchanged.
type KeySet interface {
	Key(ctx context.Context, kid string) (*Key, error)
}

// Set is a fixed [KeySet]. It is immutable and safe for concurrent use.
type Set struct {
	byID map[string]*Key
	all  []*Key
}

// NewSet returns a set of keys. Key ids must be unique.
func NewSet(keys ...*Key) (*Set, error) {
	s := &Set{byID: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if k == nil {
			return nil, errors.New("jwt: nil key")
		}
		if k.ID != "" {
			if _, dup := s.byID[k.ID]; dup {
				return nil, fmt.Errorf("jwt: two keys with kid %q", k.ID)
			}
			s.byID[k.ID] = k
		}
		s.all = append(s.all, k)
	}
	return s, nil
}

// Key returns the key named kid. A token without kid (kid == "") is matched
// only when the set holds exactly one key, so a lone key without a kid (as
// a client's registered JWKS often has) still works, and no token can make
// the verifier try several keys.
func (s *Set) Key(_ context.Context, kid string) (*Key, error) {
	if kid == "" {
		if len(s.all) == 1 {
			return s.all[0], nil
		}
		return nil, refuse(ErrUnknownKey, "no kid, and the set holds %d keys", len(s.all))
	}
	if k := s.byID[kid]; k != nil {
		return k, nil
	}
	return nil, refuse(ErrUnknownKey, "kid %q", kid)
}

// Keys returns the keys of the set.
func (s *Set) Keys() []*Key { return append([]*Key(nil), s.all...) }

// ParseJWKS reads a JWK Set (RFC 7517 §5). It keeps the public signature
// keys it can use and skips the rest, as §5 asks: keys with "use" other
// than "sig", private or symmetric keys, unsupported types, curves or
// algorithms, RSA keys under MinRSABits, and duplicate kids after the
// first. It fails when the document is not a key set or keeps no key.
func ParseJWKS(data []byte) (*Set, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwt: decode JWKS: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("jwt: JWKS has no keys member")
	}
	s := &Set{byID: make(map[string]*Key)}
	for _, raw := range doc.Keys {
		if len(s.all) == MaxJWKSKeys {
			break
		}
		k, err := ParseJWK(raw)
		if err != nil {
			continue
		}
		if k.ID != "" {
			if _, dup := s.byID[k.ID]; dup {
				continue
			}
			s.byID[k.ID] = k
		}
		s.all = append(s.all, k)
	}
	if len(s.all) == 0 {
		return nil, errors.New("jwt: JWKS holds no usable signature key")
	}
	return s, nil
}

// jwkMembers are the members of a JWK that ParseJWK reads or refuses.
type jwkMembers struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
	// Private or symmetric material: its presence refuses the key.
	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	Oth json.RawMessage `json:"oth"`
	K   json.RawMessage `json:"k"`
}

// ParseJWK reads one public signature key (RFC 7517 §4): kty EC (P-256,
// P-384, P-521), OKP (Ed25519) or RSA. It refuses any private or symmetric
// member, a "use" other than "sig", and an "alg" that is unsupported or
// does not fit the key. Only the public members are read: certificate
// chains (x5c, x5u) are ignored, never fetched or parsed. Safe for
// untrusted input, such as a DPoP proof's jwk header (RFC 9449 §4.2).
func ParseJWK(data []byte) (*Key, error) {
	var m jwkMembers
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("jwt: decode JWK: %w", err)
	}
	if m.D != nil || m.P != nil || m.Q != nil || m.DP != nil || m.DQ != nil || m.QI != nil || m.Oth != nil || m.K != nil {
		return nil, errors.New("jwt: JWK holds private or symmetric key material")
	}
	if m.Use != "" && m.Use != "sig" {
		return nil, fmt.Errorf("jwt: JWK use %q is not sig", m.Use)
	}
	// Hand go-jose only the public members it needs for this kty.
	pub := map[string]string{"kty": m.Kty}
	switch m.Kty {
	case "EC":
		pub["crv"], pub["x"], pub["y"] = m.Crv, m.X, m.Y
	case "OKP":
		if m.Crv != "Ed25519" {
			return nil, fmt.Errorf("jwt: OKP curve %q is not supported", m.Crv)
		}
		pub["crv"], pub["x"] = m.Crv, m.X
	case "RSA":
		pub["n"], pub["e"] = m.N, m.E
	default:
		return nil, fmt.Errorf("jwt: key type %q is not supported", m.Kty)
	}
	b, err := json.Marshal(pub)
	if err != nil {
		return nil, fmt.Errorf("jwt: JWK: %w", err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("jwt: JWK: %w", err)
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, errors.New("jwt: JWK is not a valid public key")
	}
	return NewKey(m.Kid, m.Alg, jwk.Key)
}
