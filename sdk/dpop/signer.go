package dpop

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	jws    *jwt.Signer
	alg    string
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
	jws, err := jwt.NewSigner(key)
	if err != nil {
		return nil, fmt.Errorf("dpop: %w", err)
	}
	s := &Signer{jws: jws, alg: jws.Algorithm()}
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

// sign signs input as JWS asks for s.alg (see jwt.Signer).
func (s *Signer) sign(input []byte) ([]byte, error) { return s.jws.Sign(input) }

// TokenHash returns the ath of an access token: the base64url SHA-256 of
// its ASCII form (§4.2).
func TokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return b64.EncodeToString(sum[:])
}
