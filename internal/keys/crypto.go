package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// Supported signing algorithms (verification supports more: package
// sdk/jwt).
const (
	ES256 = jwt.ES256
	EdDSA = jwt.EdDSA
	RS256 = jwt.RS256
)

// Algorithms lists every algorithm Permiso can sign and verify with.
var Algorithms = []string{ES256, EdDSA, RS256}

// DeriveKey derives a 32-byte key for one purpose from the master key, so
// the one configured secret can protect keys at rest and pepper client
// secrets without the two uses ever sharing a key.
func DeriveKey(master []byte, purpose string) ([]byte, error) {
	if len(master) < 32 {
		return nil, errors.New("master key must be at least 32 bytes")
	}
	return hkdf.Key(sha256.New, master, nil, "permiso "+purpose, 32)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q", alg)
}

// newKID derives the key id from the public key (RFC 7638 thumbprint), so
// ids are unique without coordination between replicas.
func newKID(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// seal encrypts a private key with AES-256-GCM; the kid is authenticated
// data so a ciphertext cannot be moved to another key's row.
func seal(kek []byte, kid string, priv crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return gcm.Seal(nonce, nonce, der, []byte(kid)), nil
}

func open(kek []byte, kid string, sealed []byte) (crypto.Signer, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed key too short")
	}
	der, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(kid))
	if err != nil {
		return nil, errors.New("decrypt private key: wrong master key or corrupted row")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return s, nil
}

func newGCM(kek []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	return cipher.NewGCM(block)
}
