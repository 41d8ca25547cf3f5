package clientcredentials

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// AssertionLifetime is how long a private_key_jwt assertion the Source
// signs is valid: a fresh one is signed for every token request, so a
// minute leaves room for clock skew and nothing more.
const AssertionLifetime = time.Minute

// maxAssertionFile bounds an assertion file (a projected token is ~1.5 KiB).
const maxAssertionFile = 64 << 10

// credential is how a Source authenticates: exactly one of a secret (the
// default), a private key, an assertion file or function; or, with only a
// TLS config, the client certificate alone.
type credential struct {
	signer *jwt.Signer // private_key_jwt
	kid    string
}

// credentialKinds counts the credentials a Config sets.
func (c *Config) credentialKinds() []string {
	var kinds []string
	if c.ClientSecret != "" || c.ClientSecretFile != "" {
		kinds = append(kinds, "ClientSecret")
	}
	if c.PrivateKey != nil || c.PrivateKeyFile != "" {
		kinds = append(kinds, "PrivateKey")
	}
	if c.AssertionFile != "" {
		kinds = append(kinds, "AssertionFile")
	}
	if c.Assertion != nil {
		kinds = append(kinds, "Assertion")
	}
	return kinds
}

// certificateOnly reports whether the client authenticates by its TLS
// client certificate alone (tls_client_auth, self_signed_tls_client_auth).
func (c *Config) certificateOnly() bool { return c.TLSConfig != nil && len(c.credentialKinds()) == 0 }

// federated reports whether the client presents an assertion someone else
// issued, which names the client itself (ClientID may then be empty).
func (c *Config) federated() bool { return c.AssertionFile != "" || c.Assertion != nil }

func (c *Config) validateCredentials(problems []string) []string {
	kinds := c.credentialKinds()
	switch {
	case len(kinds) > 1:
		problems = append(problems, "set one of ClientSecret (or ClientSecretFile), PrivateKey (or PrivateKeyFile), AssertionFile and Assertion, not "+strings.Join(kinds, " and "))
	case len(kinds) == 0 && c.TLSConfig == nil:
		problems = append(problems, "a credential is required: ClientSecret, ClientSecretFile, PrivateKey, PrivateKeyFile, AssertionFile, Assertion or TLSConfig")
	}
	if c.PrivateKey != nil && c.PrivateKeyFile != "" {
		problems = append(problems, "set PrivateKey or PrivateKeyFile, not both")
	}
	switch c.AssertionType {
	case "", wire.AssertionTypeJWTBearer, wire.AssertionTypeJWTSPIFFE:
	default:
		problems = append(problems, fmt.Sprintf("AssertionType %q is not supported", c.AssertionType))
	}
	if c.AssertionType != "" && !c.federated() {
		problems = append(problems, "AssertionType applies to AssertionFile and Assertion")
	}
	if c.TLSConfig != nil && c.HTTPClient != nil {
		problems = append(problems, "set TLSConfig or HTTPClient (whose transport then presents the certificate), not both")
	}
	if c.ClientID == "" && !c.federated() {
		problems = append(problems, "ClientID is required")
	}
	return problems
}

// newCredential prepares the Config's key, if any.
func (c *Config) newCredential() (credential, error) {
	key := c.PrivateKey
	if c.PrivateKeyFile != "" {
		var err error
		if key, err = readPrivateKey(c.PrivateKeyFile); err != nil {
			return credential{}, err
		}
	}
	if key == nil {
		return credential{}, nil
	}
	s, err := jwt.NewSigner(key)
	if err != nil {
		return credential{}, fmt.Errorf("clientcredentials: PrivateKey: %w", err)
	}
	kid := c.PrivateKeyID
	if kid == "" {
		if kid, err = Thumbprint(key.Public()); err != nil {
			return credential{}, err
		}
	}
	return credential{signer: s, kid: kid}, nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// a public key: the kid a Source puts in its assertions unless
// Config.PrivateKeyID says otherwise, and the kid `permiso clients create
// --private-key-jwt` registers.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	k := jose.JSONWebKey{Key: pub}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("clientcredentials: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

// readPrivateKey reads a PEM private key: PKCS #8 ("PRIVATE KEY"), SEC 1
// ("EC PRIVATE KEY") or PKCS #1 ("RSA PRIVATE KEY").
func readPrivateKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("clientcredentials: read private key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("clientcredentials: %s holds no PEM block", file)
	}
	var key any
	switch blk.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("clientcredentials: %s: PEM block %q is not a private key", file, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("clientcredentials: %s: %w", file, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("clientcredentials: %s: %T cannot sign", file, key)
	}
	return s, nil
}

// assertionClaims are the claims of a private_key_jwt assertion (RFC 7523
// §3).
type assertionClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	ID       string `json:"jti"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
}

// authenticate adds the client's authentication to a token request: form
// fields, or the Basic header through setBasic. It runs for every request
// (retries included), so an assertion is fresh each time and a file is read
// anew.
func (s *Source) authenticate(ctx context.Context, form url.Values, tokenEndpoint string) (basic func(*http.Request), err error) {
	switch {
	case s.cred.signer != nil:
		a, err := s.assertion(tokenEndpoint)
		if err != nil {
			return nil, err
		}
		form.Set("client_id", s.cfg.ClientID)
		form.Set("client_assertion_type", wire.AssertionTypeJWTBearer)
		form.Set("client_assertion", a)
	case s.cfg.federated():
		a, err := s.federatedAssertion(ctx)
		if err != nil {
			return nil, err
		}
		if s.cfg.ClientID != "" {
			form.Set("client_id", s.cfg.ClientID)
		}
		typ := s.cfg.AssertionType
		if typ == "" {
			typ = wire.AssertionTypeJWTBearer
		}
		form.Set("client_assertion_type", typ)
		form.Set("client_assertion", a)
	case s.cfg.certificateOnly():
		form.Set("client_id", s.cfg.ClientID)
	default:
		secret, err := s.cfg.secret()
		if err != nil {
			return nil, err
		}
		if s.cfg.AuthMethod == wire.AuthClientSecretPost {
			form.Set("client_id", s.cfg.ClientID)
			form.Set("client_secret", secret)
			return nil, nil
		}
		return func(req *http.Request) {
			// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
			req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(secret))
		}, nil
	}
	return nil, nil
}

// assertion signs a fresh private_key_jwt assertion. Its aud is the
// issuer identifier as its only value, and it is explicitly typed, as
// draft-ietf-oauth-rfc7523bis asks; configured with a TokenURL and no
// IssuerURL, it falls back to the token endpoint URL, untyped.
func (s *Source) assertion(tokenEndpoint string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("clientcredentials: assertion jti: %w", err)
	}
	now := s.now()
	h := jwt.Header{KeyID: s.cred.kid, Type: wire.ClientAssertionJWTType}
	aud := s.cfg.IssuerURL
	if aud == "" {
		aud, h.Type = tokenEndpoint, ""
	}
	a, err := s.cred.signer.Compact(h, assertionClaims{Issuer: s.cfg.ClientID, Subject: s.cfg.ClientID, Audience: aud,
		ID: base64.RawURLEncoding.EncodeToString(jti[:]), IssuedAt: now.Unix(), Expiry: now.Add(AssertionLifetime).Unix()})
	if err != nil {
		return "", fmt.Errorf("clientcredentials: sign assertion: %w", err)
	}
	return a, nil
}

// federatedAssertion returns the assertion of Assertion, or the current
// content of AssertionFile (the kubelet and SPIFFE helpers replace it
// before it expires, so it is read for every request).
func (s *Source) federatedAssertion(ctx context.Context) (string, error) {
	if s.cfg.Assertion != nil {
		a, err := s.cfg.Assertion(ctx)
		if err != nil {
			return "", fmt.Errorf("clientcredentials: assertion: %w", err)
		}
		if a = strings.TrimSpace(a); a == "" {
			return "", errors.New("clientcredentials: the assertion function returned nothing")
		}
		return a, nil
	}
	f, err := os.Open(s.cfg.AssertionFile)
	if err != nil {
		return "", fmt.Errorf("clientcredentials: read assertion: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAssertionFile+1))
	if err != nil {
		return "", fmt.Errorf("clientcredentials: read assertion: %w", err)
	}
	if len(b) > maxAssertionFile {
		return "", fmt.Errorf("clientcredentials: assertion file %s is larger than %d bytes", s.cfg.AssertionFile, maxAssertionFile)
	}
	a := strings.TrimSpace(string(b))
	if a == "" {
		return "", fmt.Errorf("clientcredentials: assertion file %s is empty", s.cfg.AssertionFile)
	}
	return a, nil
}
