package jwt

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// DefaultMaxBytes is the size limit of a token when [Config].MaxBytes is
// zero.
const DefaultMaxBytes = 8 << 10

// Header is the protected header of a token.
type Header struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid,omitempty"`
	Type      string `json:"typ,omitempty"`
	// JWK is the raw jwk header parameter (RFC 7515 §4.1.3), kept for the
	// caller; only a verifier with KeyFromHeader uses it.
	JWK json.RawMessage `json:"jwk,omitempty"`
}

// rawHeader is Header plus the parameters whose mere presence refuses a
// token: crit (we understand no extension, RFC 7515 §4.1.11), b64
// (unencoded payloads, RFC 7797), enc and zip (a JWE, RFC 7516).
type rawHeader struct {
	Header
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
	Enc  json.RawMessage `json:"enc"`
	Zip  json.RawMessage `json:"zip"`
}

// parsed is a compact JWS split and decoded; nothing is verified yet.
type parsed struct {
	header       Header
	payload      []byte
	signingInput string
	signature    []byte
}

var b64 = base64.RawURLEncoding.Strict()

// parse splits and decodes a compact JWS (RFC 7515 §7.1) of at most
// maxBytes. It refuses anything but three base64url parts (so a JWE's five
// parts too), a header that is not a JSON object with an alg, and the
// header parameters rawHeader lists.
func parse(raw string, maxBytes int) (*parsed, error) {
	if raw == "" {
		return nil, refuse(ErrMalformed, "empty")
	}
	if len(raw) > maxBytes {
		return nil, refuse(ErrMalformed, "%d bytes exceeds the limit of %d", len(raw), maxBytes)
	}
	if n := strings.Count(raw, "."); n != 2 {
		if n == 4 {
			return nil, refuse(ErrMalformed, "a JWE is not accepted")
		}
		return nil, refuse(ErrMalformed, "not a compact JWS")
	}
	i := strings.IndexByte(raw, '.')
	j := strings.LastIndexByte(raw, '.')
	hb, err := b64.DecodeString(raw[:i])
	if err != nil {
		return nil, refuse(ErrMalformed, "header encoding")
	}
	var h rawHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, refuse(ErrMalformed, "header: not a JSON object")
	}
	switch {
	case h.Algorithm == "":
		return nil, refuse(ErrMalformed, "header has no alg")
	case h.Crit != nil:
		return nil, refuse(ErrMalformed, "critical header parameters are not supported")
	case h.B64 != nil:
		return nil, refuse(ErrMalformed, "unencoded payloads are not supported")
	case h.Enc != nil || h.Zip != nil:
		return nil, refuse(ErrMalformed, "a JWE is not accepted")
	}
	p := &parsed{header: h.Header, signingInput: raw[:j]}
	if p.payload, err = b64.DecodeString(raw[i+1 : j]); err != nil {
		return nil, refuse(ErrMalformed, "payload encoding")
	}
	if p.signature, err = b64.DecodeString(raw[j+1:]); err != nil {
		return nil, refuse(ErrMalformed, "signature encoding")
	}
	if len(p.signature) == 0 {
		return nil, refuse(ErrAlgorithm, "unsecured JWS")
	}
	return p, nil
}

// ParseUnverified decodes a token's header and registered claims without
// verifying anything. Use it only to choose how to verify (which client's
// keys a client assertion needs, say) or to show a token to a person;
// never to decide anything. It applies the same size and form limits as
// [Verifier.Verify], with [DefaultMaxBytes].
func ParseUnverified(raw string) (*Token, error) {
	p, err := parse(raw, DefaultMaxBytes)
	if err != nil {
		return nil, err
	}
	t := &Token{Header: p.header, Payload: p.payload}
	if err := json.Unmarshal(p.payload, &t.Claims); err != nil {
		return nil, refuse(ErrMalformed, "claims: %v", err)
	}
	return t, nil
}
