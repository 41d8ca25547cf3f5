package jwt_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// exampleSign signs claims with go-jose, standing in for an issuer.
func exampleSign(key any, alg jose.SignatureAlgorithm, opts *jose.SignerOptions, claims any) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		panic(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		panic(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return raw
}

// Verify an RFC 9068 access token against an issuer's JWKS.
func Example() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	now := time.Now()
	token := exampleSign(priv, jose.ES256, (&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k1"), map[string]any{
		"iss": "https://auth.example.com", "sub": "billing-service", "aud": "https://api.example.com",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "jti": "4f1c", "scope": "invoices:read",
	})

	keys, err := jwt.ParseJWKS(jwks)
	if err != nil {
		panic(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{
		Keys:     keys,
		Types:    []string{"at+jwt"},
		Issuer:   "https://auth.example.com",
		Audience: []string{"https://api.example.com"},
		Require:  []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimExpiry, jwt.ClaimIssuedAt, jwt.ClaimID},
	})
	if err != nil {
		panic(err)
	}
	tok, err := v.Verify(context.Background(), token)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	var extra struct {
		Scope string `json:"scope"`
	}
	if err := tok.Decode(&extra); err != nil {
		panic(err)
	}
	fmt.Println(tok.Claims.Subject, extra.Scope)
	// Output: billing-service invoices:read
}

// Verify a DPoP proof (RFC 9449): the key is the one in the proof's header,
// and its thumbprint is what a bound token's cnf.jkt must equal.
func ExampleConfig_keyFromHeader() {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	proof := exampleSign(priv, jose.EdDSA, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"), map[string]any{
		"jti": "e1j3", "htm": "POST", "htu": "https://auth.example.com/oauth2/token", "iat": time.Now().Unix(),
	})

	v, err := jwt.NewVerifier(jwt.Config{
		KeyFromHeader: true,
		Types:         []string{"dpop+jwt"},
		Require:       []string{jwt.ClaimID, jwt.ClaimIssuedAt},
		MaxAge:        time.Minute,
	})
	if err != nil {
		panic(err)
	}
	tok, err := v.Verify(context.Background(), proof)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	var c struct {
		Method string `json:"htm"`
		URL    string `json:"htu"`
	}
	if err := tok.Decode(&c); err != nil {
		panic(err)
	}
	jkt, _ := tok.Key.Thumbprint()
	want, _ := (&jwt.Key{Public: pub}).Thumbprint()
	fmt.Println(c.Method, c.URL, jkt == want)
	// Output: POST https://auth.example.com/oauth2/token true
}

// Verify an RFC 7523 client assertion: find the client from the unverified
// token, then verify against that client's registered keys.
func ExampleParseUnverified() {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clientJWKS, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public()}}})
	now := time.Now()
	assertion := exampleSign(priv, jose.ES256, nil, map[string]any{
		"iss": "reporting", "sub": "reporting", "aud": "https://auth.example.com/oauth2/token",
		"exp": now.Add(time.Minute).Unix(), "jti": "a-91",
	})

	unverified, err := jwt.ParseUnverified(assertion)
	if err != nil {
		panic(err)
	}
	clientID := unverified.Claims.Subject  // only to pick the keys
	keys, err := jwt.ParseJWKS(clientJWKS) // the keys registered for clientID
	if err != nil {
		panic(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{
		Keys:     keys,
		AnyType:  true,
		Issuer:   clientID,
		Audience: []string{"https://auth.example.com/oauth2/token", "https://auth.example.com"},
		Require:  []string{jwt.ClaimSubject, jwt.ClaimExpiry, jwt.ClaimID},
	})
	if err != nil {
		panic(err)
	}
	tok, err := v.Verify(context.Background(), assertion)
	if err != nil || tok.Claims.Subject != clientID {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("client", tok.Claims.Subject, "jti", tok.Claims.ID)
	// Output: client reporting jti a-91
}
