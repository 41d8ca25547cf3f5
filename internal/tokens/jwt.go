package tokens

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// MaxTokenBytes bounds the size of a JWT we are willing to parse.
const MaxTokenBytes = 8 << 10

// Header is the protected header of a JWS.
type Header struct {
	Alg  string   `json:"alg"`
	Kid  string   `json:"kid"`
	Typ  string   `json:"typ"`
	Crit []string `json:"crit,omitempty"`
}

// Parsed is a compact JWS split into its parts; nothing is verified yet.
type Parsed struct {
	Header       Header
	Payload      []byte
	SigningInput []byte
	Signature    []byte
}

var errMalformed = errors.New("malformed token")

// Parse splits and decodes a compact JWS. It refuses oversized input,
// anything but three base64url parts, unparsable headers and the crit
// parameter (we understand no extensions, RFC 7515 §4.1.11).
func Parse(raw string) (*Parsed, error) {
	if len(raw) == 0 || len(raw) > MaxTokenBytes {
		return nil, errMalformed
	}
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, errMalformed
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s, '.') >= 0 {
		return nil, errMalformed
	}
	enc := base64.RawURLEncoding
	hb, err := enc.DecodeString(h)
	if err != nil {
		return nil, errMalformed
	}
	var out Parsed
	dec := json.NewDecoder(bytes.NewReader(hb))
	if err := dec.Decode(&out.Header); err != nil || out.Header.Alg == "" || len(out.Header.Crit) > 0 {
		return nil, errMalformed
	}
	if out.Payload, err = enc.DecodeString(p); err != nil {
		return nil, errMalformed
	}
	if out.Signature, err = enc.DecodeString(s); err != nil {
		return nil, errMalformed
	}
	out.SigningInput = []byte(raw[:len(h)+1+len(p)])
	return &out, nil
}
