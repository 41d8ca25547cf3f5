package api

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

var trustNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

var keySources = []string{store.KeySourceOIDC, store.KeySourceJWKSURI, store.KeySourceJWKS, store.KeySourceSPIFFE}

// Bounds of a trust's maximum token age, in seconds.
const (
	minTokenAge     = 60
	maxTokenAge     = 7 * 24 * 3600
	defaultTokenAge = 3600
)

// applyTrust validates the present fields of f and sets them on t.
func applyTrust(f apitype.TrustFields, t *store.Trust, problems *web.Fields) {
	text := func(p *string, dst *string, field string, maxLen int, multiline bool) bool {
		if p == nil {
			return false
		}
		*dst = strings.TrimSpace(*p)
		switch {
		case utf8.RuneCountInString(*dst) > maxLen:
			problems.Addf("%s must be at most %d characters", field, maxLen)
		case !web.PlainText(*dst, multiline):
			problems.Addf("%s must not contain control characters", field)
		}
		return true
	}
	if text(f.Name, &t.Name, "name", 63, false) && !trustNamePattern.MatchString(t.Name) {
		problems.Addf("name must be 1 to 63 lower-case letters, digits and '-', starting with a letter or digit")
	}
	text(f.Description, &t.Description, "description", 1000, true)
	text(f.Issuer, &t.Issuer, "issuer", 500, false)
	if f.KeySource != nil {
		t.KeySource = *f.KeySource
	}
	text(f.JWKSURI, &t.JWKSURI, "jwks_uri", 2048, false)
	if f.SPIFFEBundleEndpoint != nil {
		text(f.SPIFFEBundleEndpoint, &t.JWKSURI, "spiffe_bundle_endpoint", 2048, false)
	}
	if f.JWKS != nil {
		t.JWKS = *f.JWKS
	}
	if f.SPIFFEBundle != nil {
		t.JWKS = *f.SPIFFEBundle
	}
	text(f.TrustDomain, &t.TrustDomain, "trust_domain", 255, false)
	text(f.Audience, &t.Audience, "audience", 500, false)
	if f.MaxTokenAge != nil {
		t.MaxTokenAge = time.Duration(*f.MaxTokenAge) * time.Second
		if *f.MaxTokenAge < minTokenAge || *f.MaxTokenAge > maxTokenAge {
			problems.Addf("max_token_age must be between %d and %d seconds", minTokenAge, maxTokenAge)
		}
	}
	if f.IsActive != nil {
		t.Active = *f.IsActive
	}
}

// checkTrust applies the rules that tie a trust's fields together.
func (a *API) checkTrust(f apitype.TrustFields, t *store.Trust, problems *web.Fields) {
	if !slices.Contains(keySources, t.KeySource) {
		problems.Addf("key_source must be one of %s", strings.Join(keySources, ", "))
		return
	}
	checkURL := func(field, raw string) {
		if err := a.checkKeyURL(raw); err != nil {
			problems.Addf("%s %v", field, err)
		}
	}
	spiffe := t.KeySource == store.KeySourceSPIFFE
	if t.Issuer != "" {
		checkURL("issuer", t.Issuer)
	} else if !spiffe {
		problems.Addf("issuer is required: the exact iss of the trust's tokens")
	}
	if f.JWKSURI != nil && t.KeySource != store.KeySourceJWKSURI && *f.JWKSURI != "" {
		problems.Addf("jwks_uri applies to key_source jwks_uri only")
	}
	if f.JWKS != nil && t.KeySource != store.KeySourceJWKS {
		problems.Addf("jwks applies to key_source jwks only")
	}
	if (f.SPIFFEBundle != nil || f.SPIFFEBundleEndpoint != nil || f.TrustDomain != nil && *f.TrustDomain != "") && !spiffe {
		problems.Addf("trust_domain, spiffe_bundle_endpoint and spiffe_bundle apply to key_source spiffe only")
	}
	switch t.KeySource {
	case store.KeySourceOIDC:
		t.JWKSURI, t.JWKS, t.TrustDomain = "", nil, ""
	case store.KeySourceJWKSURI:
		t.JWKS, t.TrustDomain = nil, ""
		if t.JWKSURI == "" {
			problems.Addf("jwks_uri is required for key_source jwks_uri")
		} else {
			checkURL("jwks_uri", t.JWKSURI)
		}
	case store.KeySourceJWKS:
		t.JWKSURI, t.TrustDomain = "", ""
		if len(t.JWKS) == 0 {
			problems.Addf("jwks is required for key_source jwks")
		} else {
			t.JWKS = checkJWKS("jwks", t.JWKS, problems)
		}
	case store.KeySourceSPIFFE:
		if err := federation.CheckTrustDomain(t.TrustDomain); err != nil {
			problems.Addf("trust_domain: %v", err)
		}
		switch {
		case t.JWKSURI != "" && len(t.JWKS) > 0:
			problems.Addf("give spiffe_bundle_endpoint or spiffe_bundle, not both")
		case t.JWKSURI != "":
			checkURL("spiffe_bundle_endpoint", t.JWKSURI)
		case len(t.JWKS) > 0:
			if len(t.JWKS) > maxJWKSBytes {
				problems.Addf("spiffe_bundle must be at most %d bytes", maxJWKSBytes)
			} else if b, err := remotekeys.ParseBundle(t.JWKS); err != nil || b.JWT == nil {
				problems.Addf("spiffe_bundle must be a SPIFFE bundle with a JWT-SVID key (use \"jwt-svid\")")
			} else {
				t.JWKS = compactJSON(t.JWKS)
			}
		default:
			problems.Addf("a SPIFFE trust needs spiffe_bundle_endpoint (preferred) or a static spiffe_bundle")
		}
		if t.Audience != "" && t.Audience != a.issuer() {
			problems.Addf("audience of a SPIFFE trust is Permiso's issuer %s (draft-ietf-oauth-spiffe-client-auth §3.1); leave it empty", a.issuer())
		}
	}
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// issuer is Permiso's issuer identifier.
func (a *API) issuer() string { return a.cfg.OAuth.Issuer() }

// trustResponse renders a trust and its bindings.
func (a *API) trustResponse(t store.Trust, bindings []store.TrustBinding) apitype.Trust {
	out := apitype.Trust{ID: t.ID, Name: t.Name, Description: t.Description, Issuer: t.Issuer, KeySource: t.KeySource,
		TrustDomain: t.TrustDomain, Audience: t.Audience, MaxTokenAge: int(t.MaxTokenAge / time.Second),
		IsActive: t.Active, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Bindings: []apitype.TrustBinding{}}
	if out.Audience == "" {
		out.Audience = a.issuer()
	}
	switch t.KeySource {
	case store.KeySourceSPIFFE:
		out.SPIFFEBundleEndpoint, out.SPIFFEBundle = t.JWKSURI, t.JWKS
	default:
		out.JWKSURI, out.JWKS = t.JWKSURI, t.JWKS
	}
	for _, b := range bindings {
		out.Bindings = append(out.Bindings, bindingResponse(t.Name, b))
	}
	return out
}

func bindingResponse(trust string, b store.TrustBinding) apitype.TrustBinding {
	cond := b.Conditions
	if cond == nil {
		cond = map[string][]string{}
	}
	return apitype.TrustBinding{ID: b.ID, Trust: trust, ClientID: b.ClientName, Subject: b.Subject, Conditions: cond, CreatedAt: b.CreatedAt}
}
