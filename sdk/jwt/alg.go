package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"slices"
)

// Signature algorithms (RFC 7518 §3, RFC 8037 §3.1). Only asymmetric
// algorithms exist here: "none" and HMAC are never accepted, so a public
// key can never be used as a shared secret.
const (
	ES256 = "ES256" // ECDSA P-256, SHA-256
	ES384 = "ES384" // ECDSA P-384, SHA-384
	ES512 = "ES512" // ECDSA P-521, SHA-512
	EdDSA = "EdDSA" // Ed25519
	RS256 = "RS256" // RSASSA-PKCS1-v1_5, SHA-256
	RS384 = "RS384"
	RS512 = "RS512"
	PS256 = "PS256" // RSASSA-PSS, SHA-256, salt length = hash length
	PS384 = "PS384"
	PS512 = "PS512"
)

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const MinRSABits = 2048

// Algorithms returns every supported algorithm, the default allow-list of
// a [Verifier].
func Algorithms() []string {
	return []string{ES256, ES384, ES512, EdDSA, RS256, RS384, RS512, PS256, PS384, PS512}
}

// supported reports whether alg is one of [Algorithms].
func supported(alg string) bool { return slices.Contains(Algorithms(), alg) }

// hashOf returns the digest of alg, or 0 for EdDSA (which hashes itself).
func hashOf(alg string) crypto.Hash {
	switch alg {
	case ES256, RS256, PS256:
		return crypto.SHA256
	case ES384, RS384, PS384:
		return crypto.SHA384
	case ES512, RS512, PS512:
		return crypto.SHA512
	}
	return 0
}

// fits reports whether pub is the right kind of key for alg: the curve for
// ECDSA, Ed25519 for EdDSA, RSA of at least MinRSABits for RS and PS.
func fits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case ES256:
			return k.Curve == elliptic.P256()
		case ES384:
			return k.Curve == elliptic.P384()
		case ES512:
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == EdDSA && len(k) == ed25519.PublicKeySize
	case *rsa.PublicKey:
		switch alg {
		case RS256, RS384, RS512, PS256, PS384, PS512:
			return k.N != nil && k.N.BitLen() >= MinRSABits
		}
	}
	return false
}

// verifySignature checks sig over input with pub for alg; the caller has
// checked that pub fits alg.
func verifySignature(alg string, pub crypto.PublicKey, input, sig []byte) bool {
	if alg == EdDSA {
		k, ok := pub.(ed25519.PublicKey)
		return ok && ed25519.Verify(k, input, sig)
	}
	h := hashOf(alg)
	var sum []byte
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(input)
		sum = d[:]
	case crypto.SHA384:
		d := sha512.Sum384(input)
		sum = d[:]
	case crypto.SHA512:
		d := sha512.Sum512(input)
		sum = d[:]
	default:
		return false
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		// JWS carries the fixed-width R||S form (RFC 7518 §3.4), not ASN.1.
		n := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return false
		}
		r := new(big.Int).SetBytes(sig[:n])
		s := new(big.Int).SetBytes(sig[n:])
		return ecdsa.Verify(k, sum, r, s)
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(k, h, sum, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}) == nil
		}
		return rsa.VerifyPKCS1v15(k, h, sum, sig) == nil
	}
	return false
}
