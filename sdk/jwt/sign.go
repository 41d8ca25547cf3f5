package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// Signer signs JWTs with one private key: the tokens a client makes
// itself, such as private_key_jwt client assertions (sdk/clientcredentials)
// and DPoP proofs (sdk/dpop). It picks the algorithm from the key: ES256,
// ES384 or ES512 for ECDSA on P-256, P-384 or P-521, EdDSA for Ed25519,
// PS256 for RSA of at least MinRSABits. The key may be any crypto.Signer,
// such as one held by an HSM or a cloud KMS. A Signer is immutable and safe
// for concurrent use.
type Signer struct {
	key  crypto.Signer
	alg  string
	hash crypto.Hash
	size int // ECDSA: bytes of R and of S
}

// NewSigner returns a Signer for key.
func NewSigner(key crypto.Signer) (*Signer, error) {
	if key == nil {
		return nil, errors.New("jwt: no signing key")
	}
	s := &Signer{key: key}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			s.alg, s.hash = ES256, crypto.SHA256
		case elliptic.P384():
			s.alg, s.hash = ES384, crypto.SHA384
		case elliptic.P521():
			s.alg, s.hash = ES512, crypto.SHA512
		default:
			return nil, errors.New("jwt: unsupported ECDSA curve")
		}
		s.size = (pub.Curve.Params().BitSize + 7) / 8
	case ed25519.PublicKey:
		s.alg = EdDSA
	case *rsa.PublicKey:
		if pub.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("jwt: RSA key of %d bits; at least %d are needed", pub.N.BitLen(), MinRSABits)
		}
		s.alg, s.hash = PS256, crypto.SHA256
	default:
		return nil, fmt.Errorf("jwt: unsupported signing key type %T", pub)
	}
	return s, nil
}

// Algorithm returns the alg of the Signer's signatures.
func (s *Signer) Algorithm() string { return s.alg }

// Public returns the public key.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign returns the JWS signature of input (RFC 7515 §5.1): ECDSA as
// fixed-width R||S (RFC 7518 §3.4), RSA with PSS and a salt as long as the
// hash (§3.5).
func (s *Signer) Sign(input []byte) ([]byte, error) {
	if s.alg == EdDSA {
		return s.key.Sign(rand.Reader, input, crypto.Hash(0))
	}
	var digest []byte
	switch s.hash {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		digest = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		digest = d[:]
	default:
		d := sha512.Sum512(input)
		digest = d[:]
	}
	if s.alg == PS256 {
		return s.key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash})
	}
	der, err := s.key.Sign(rand.Reader, digest, s.hash)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, errors.New("jwt: ECDSA signature is not ASN.1")
	}
	n := s.size
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*n || rs.S.BitLen() > 8*n {
		return nil, errors.New("jwt: ECDSA signature out of range")
	}
	out := make([]byte, 2*n)
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}

// Compact returns the compact JWS of claims (any value that encodes as a
// JSON object) with header, whose Algorithm the Signer sets.
func (s *Signer) Compact(header Header, claims any) (string, error) {
	header.Algorithm = s.alg
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("jwt: encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwt: encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := s.Sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("jwt: sign: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}
