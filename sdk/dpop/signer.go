package dpop

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
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// Header names and the proof's typ (RFC 9449 §4.1, §4.2, §8.1).
const (
	// HeaderProof is the request header carrying the proof.
	HeaderProof = "DPoP"
	// HeaderNonce is the response header carrying a server-provided nonce.
	HeaderNonce = "DPoP-Nonce"
	// Scheme is the Authorization scheme of a DPoP-bound access token (§7.1).
	Scheme = "DPoP"
	// ProofType is the typ header of a proof.
	ProofType = "dpop+jwt"
)

var b64 = base64.RawURLEncoding

// Signer makes DPoP proofs with one key. It is immutable and safe for
// concurrent use.
type Signer struct {
	key    crypto.Signer
	alg    string
	hash   crypto.Hash
	header string // the encoded protected header, the same for every proof
	jkt    string
}

// NewSigner returns a Signer for key: an ECDSA key on P-256, P-384 or P-521
// (ES256, ES384, ES512), an Ed25519 key (EdDSA) or an RSA key of at least
// 2048 bits (PS256). key may be any crypto.Signer, such as a key held by an
// HSM or a cloud KMS whose private part never leaves it.
func NewSigner(key crypto.Signer) (*Signer, error) {
	if key == nil {
		return nil, errors.New("dpop: no key")
	}
	s := &Signer{key: key}
	switch pub := key.Public().(type) {
	case *ecdsa.PublicKey:
		switch pub.Curve {
		case elliptic.P256():
			s.alg, s.hash = jwt.ES256, crypto.SHA256
		case elliptic.P384():
			s.alg, s.hash = jwt.ES384, crypto.SHA384
		case elliptic.P521():
			s.alg, s.hash = jwt.ES512, crypto.SHA512
		default:
			return nil, errors.New("dpop: unsupported ECDSA curve")
		}
	case ed25519.PublicKey:
		s.alg = jwt.EdDSA
	case *rsa.PublicKey:
		if pub.N.BitLen() < jwt.MinRSABits {
			return nil, fmt.Errorf("dpop: RSA key of %d bits; at least %d are needed", pub.N.BitLen(), jwt.MinRSABits)
		}
		s.alg, s.hash = jwt.PS256, crypto.SHA256
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T", pub)
	}
	jwk, err := jose.JSONWebKey{Key: key.Public()}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("dpop: encode public key: %w", err)
	}
	// The thumbprint comes from the JWK as a verifier will read it.
	k, err := jwt.ParseJWK(jwk)
	if err != nil {
		return nil, fmt.Errorf("dpop: public key: %w", err)
	}
	if s.jkt, err = k.Thumbprint(); err != nil {
		return nil, err
	}
	h, err := json.Marshal(struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}{ProofType, s.alg, jwk})
	if err != nil {
		return nil, fmt.Errorf("dpop: encode header: %w", err)
	}
	s.header = b64.EncodeToString(h)
	return s, nil
}

// Algorithm returns the proofs' alg.
func (s *Signer) Algorithm() string { return s.alg }

// Thumbprint returns the RFC 7638 thumbprint of the public key: the jkt a
// bound token carries in cnf, and the dpop_jkt of an authorization request
// (§10).
func (s *Signer) Thumbprint() string { return s.jkt }

// ProofOptions are the optional claims of a proof.
type ProofOptions struct {
	// AccessToken, when the proof accompanies one, sets ath to its hash.
	AccessToken string
	// Nonce is the server's last DPoP-Nonce, if it sent one.
	Nonce string
	// IssuedAt is the proof's iat; zero means now.
	IssuedAt time.Time
}

// Proof returns a proof for a request with method (htm) to uri (htu; its
// query and fragment are left out, as §4.2 asks), with a fresh random jti.
func (s *Signer) Proof(method, uri string, o ProofOptions) (string, error) {
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("dpop: jti: %w", err)
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	claims := proofClaims{JTI: b64.EncodeToString(jti[:]), HTM: method, HTU: uri, IAT: iat.Unix(), Nonce: o.Nonce}
	if o.AccessToken != "" {
		claims.ATH = TokenHash(o.AccessToken)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("dpop: encode claims: %w", err)
	}
	input := s.header + "." + b64.EncodeToString(payload)
	sig, err := s.sign([]byte(input))
	if err != nil {
		return "", fmt.Errorf("dpop: sign proof: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// proofClaims are the claims of a proof (§4.2).
type proofClaims struct {
	JTI   string `json:"jti"`
	HTM   string `json:"htm"`
	HTU   string `json:"htu"`
	IAT   int64  `json:"iat"`
	ATH   string `json:"ath,omitempty"`
	Nonce string `json:"nonce,omitempty"`
}

// sign signs input as JWS asks for s.alg: ECDSA as fixed-width R||S (RFC
// 7518 §3.4), RSA with PSS and a salt as long as the hash (§3.5).
func (s *Signer) sign(input []byte) ([]byte, error) {
	if s.alg == jwt.EdDSA {
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
	if s.alg == jwt.PS256 {
		return s.key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: s.hash})
	}
	der, err := s.key.Sign(rand.Reader, digest, s.hash)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
		return nil, errors.New("ECDSA signature is not ASN.1")
	}
	n := (s.key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 || rs.R.BitLen() > 8*n || rs.S.BitLen() > 8*n {
		return nil, errors.New("ECDSA signature out of range")
	}
	out := make([]byte, 2*n)
	rs.R.FillBytes(out[:n])
	rs.S.FillBytes(out[n:])
	return out, nil
}

// TokenHash returns the ath of an access token: the base64url SHA-256 of
// its ASCII form (§4.2).
func TokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:])
}
