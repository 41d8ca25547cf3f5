package remotekeys

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// discovery is the part of an OpenID Provider Metadata document (OpenID
// Connect Discovery §3) needed to find keys.
type discovery struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// fetchOIDC reads the issuer's discovery document, checks that it names
// exactly this issuer (Discovery §4.3: otherwise another issuer's keys could
// be taken for this one's), then fetches its jwks_uri. The shorter TTL of
// the two responses applies.
func (c *Cache) fetchOIDC(ctx context.Context, issuer string) (*jwt.Set, time.Duration, error) {
	body, ttl1, err := c.get(ctx, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration")
	if err != nil {
		return nil, 0, fmt.Errorf("discovery: %w", err)
	}
	var d discovery
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, 0, fmt.Errorf("discovery: not JSON: %w", err)
	}
	if d.Issuer != issuer {
		return nil, 0, fmt.Errorf("discovery names issuer %q, not %q", d.Issuer, issuer)
	}
	if d.JWKSURI == "" {
		return nil, 0, errors.New("discovery names no jwks_uri")
	}
	set, ttl2, err := c.fetchJWKS(ctx, d.JWKSURI)
	if err != nil {
		return nil, 0, fmt.Errorf("jwks_uri: %w", err)
	}
	return set, min(ttl1, ttl2), nil
}

func (c *Cache) fetchSPIFFE(ctx context.Context, url string) (*jwt.Set, time.Duration, error) {
	body, ttl, err := c.get(ctx, url)
	if err != nil {
		return nil, 0, err
	}
	b, err := ParseBundle(body)
	if err != nil {
		return nil, 0, err
	}
	if b.JWT == nil {
		return nil, 0, errors.New("the bundle holds no JWT-SVID key")
	}
	if b.RefreshHint > 0 {
		ttl = c.clamp(b.RefreshHint)
	}
	return b.JWT, ttl, nil
}

// Bundle is a SPIFFE trust bundle (SPIFFE Trust Domain and Bundle §4): a
// JWK Set whose keys have use "jwt-svid" (JWT-SVID signing keys) or
// "x509-svid" (X.509-SVID authorities, in x5c).
type Bundle struct {
	JWT         *jwt.Set       // nil when the bundle has no JWT-SVID key
	X509        *x509.CertPool // nil when it has no X.509-SVID authority
	RefreshHint time.Duration  // spiffe_refresh_hint; 0 when absent
	Sequence    int64          // spiffe_sequence
	authorities []*x509.Certificate
}

// Authorities returns the X.509-SVID authorities of the bundle.
func (b *Bundle) Authorities() []*x509.Certificate { return b.authorities }

// MaxBundleKeys bounds the keys read from a bundle.
const MaxBundleKeys = 100

// ParseBundle reads a SPIFFE bundle. JWT-SVID keys are handed to the one
// JWK parser (sdk/jwt) as signature keys; keys of other uses are skipped,
// as the bundle format asks.
func ParseBundle(data []byte) (*Bundle, error) {
	var doc struct {
		Keys        []map[string]json.RawMessage `json:"keys"`
		RefreshHint *int64                       `json:"spiffe_refresh_hint"`
		Sequence    int64                        `json:"spiffe_sequence"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("SPIFFE bundle: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("SPIFFE bundle has no keys member")
	}
	b := &Bundle{Sequence: doc.Sequence}
	if doc.RefreshHint != nil && *doc.RefreshHint > 0 {
		b.RefreshHint = time.Duration(*doc.RefreshHint) * time.Second
	}
	var jwtKeys []json.RawMessage
	for i, k := range doc.Keys {
		if i == MaxBundleKeys {
			break
		}
		var use string
		_ = json.Unmarshal(k["use"], &use)
		switch use {
		case "jwt-svid":
			delete(k, "use") // a signature key to the JWK parser
			raw, err := json.Marshal(k)
			if err == nil {
				jwtKeys = append(jwtKeys, raw)
			}
		case "x509-svid":
			var chain []string
			if err := json.Unmarshal(k["x5c"], &chain); err != nil || len(chain) == 0 {
				continue
			}
			der, err := base64.StdEncoding.DecodeString(chain[0])
			if err != nil {
				continue
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil || !cert.IsCA {
				continue
			}
			b.authorities = append(b.authorities, cert)
		}
	}
	if len(jwtKeys) > 0 {
		raw, _ := json.Marshal(map[string]any{"keys": jwtKeys})
		if set, err := jwt.ParseJWKS(raw); err == nil {
			b.JWT = set
		}
	}
	if len(b.authorities) > 0 {
		b.X509 = x509.NewCertPool()
		for _, a := range b.authorities {
			b.X509.AddCert(a)
		}
	}
	if b.JWT == nil && b.X509 == nil {
		return nil, errors.New("SPIFFE bundle holds no usable key")
	}
	return b, nil
}
