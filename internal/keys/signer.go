package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Signer signs compact JWS objects with one key. It is immutable and safe
// for concurrent use; the header is encoded once when the key loads.
type Signer struct {
	KID    string
	Alg    string
	key    crypto.Signer
	header string // base64url of the protected header, with the trailing '.'
	sigLen int    // bytes of a signature, to size the token's buffer once
}

func newSigner(kid, alg string, key crypto.Signer, typ string) (*Signer, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	if err != nil {
		return nil, err
	}
	sigLen := 64 // ES256 (R||S) and EdDSA
	if k, ok := key.(*rsa.PrivateKey); ok {
		sigLen = k.Size()
	}
	return &Signer{KID: kid, Alg: alg, key: key, header: base64.RawURLEncoding.EncodeToString(h) + ".", sigLen: sigLen}, nil
}

// WithType returns a signer with the same key whose header carries typ
// instead, for tokens of another kind (transaction tokens are
// txntoken+jwt); the access-token signer keeps its pre-encoded header.
func (s *Signer) WithType(typ string) (*Signer, error) {
	return newSigner(s.KID, s.Alg, s.key, typ)
}

// Sign returns header.payload.signature for the JSON payload.
func (s *Signer) Sign(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(s.header) + enc.EncodedLen(len(payload))
	buf := make([]byte, 0, n+1+enc.EncodedLen(s.sigLen))
	buf = append(buf, s.header...)
	buf = enc.AppendEncode(buf, payload)
	sig, err := s.signBytes(buf)
	if err != nil {
		return "", fmt.Errorf("sign with key %s: %w", s.KID, err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

func (s *Signer) signBytes(input []byte) ([]byte, error) {
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		sum := sha256.Sum256(input)
		r, ss, err := ecdsa.Sign(rand.Reader, k, sum[:])
		if err != nil {
			return nil, err
		}
		// JWS wants the fixed-width R||S form (RFC 7518 §3.4), not ASN.1.
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		ss.FillBytes(out[32:])
		return out, nil
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input), nil
	case *rsa.PrivateKey:
		sum := sha256.Sum256(input)
		return rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	}
	return nil, errors.New("unsupported key type")
}
