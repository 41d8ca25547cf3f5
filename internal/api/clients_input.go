package api

import (
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// clientFields is the body of create and update (apitype.ClientFields),
// with the API's rules as methods.
type clientFields apitype.ClientFields

// fixedFieldProblems reports the create-only fields in an update, saying
// why they cannot change rather than "unknown field".
func (u clientFields) fixedFieldProblems(problems *web.Fields) {
	if u.ClientID != nil {
		problems.Addf("client_id cannot be changed; create a new client instead")
	}
	if u.ClientSecret != nil {
		problems.Addf("client_secret cannot be set here; use POST /api/v1/service-clients/{client_id}/rotate-secret")
	}
	if u.ClientType != nil {
		problems.Addf("client_type cannot be changed; create a new client instead")
	}
}

var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

var knownGrants = []string{wire.GrantClientCredentials, wire.GrantPassword, wire.GrantRefreshToken, wire.GrantAuthorizationCode,
	wire.GrantTokenExchange}

// newClientDefaults is a client before the create body is applied.
func newClientDefaults(clientType string) store.Client {
	c := store.Client{Type: clientType, Active: true, AccessTokenLifetime: 3600,
		RateLimitPerMinute: 60, RateLimitPerHour: 1000, ScopeIDs: []string{}}
	if clientType == wire.ClientTypePublic {
		c.GrantTypes = []string{wire.GrantAuthorizationCode, wire.GrantRefreshToken}
		c.TokenEndpointAuthMethod = wire.AuthNone
	} else {
		c.GrantTypes = []string{wire.GrantClientCredentials}
		c.TokenEndpointAuthMethod = wire.AuthClientSecretBasic
	}
	return c
}

// apply validates the present fields and sets them on c, adding every
// problem to problems. Scope references are resolved by the caller.
func (f clientFields) apply(c *store.Client, problems *web.Fields) {
	str := func(p *string, dst *string, field string, maxLen int) bool {
		if p == nil {
			return false
		}
		*dst = strings.TrimSpace(*p)
		if utf8.RuneCountInString(*dst) > maxLen {
			problems.Addf("%s must be at most %d characters", field, maxLen)
		} else if !web.PlainText(*dst, field == "description") {
			problems.Addf("%s must not contain control characters", field)
		}
		return true
	}
	num := func(p *int, dst *int, field string, lo, hi int) {
		if p == nil {
			return
		}
		*dst = *p
		if *p < lo || *p > hi {
			problems.Addf("%s must be between %d and %d", field, lo, hi)
		}
	}
	if str(f.Name, &c.Name, "name", 100) && utf8.RuneCountInString(c.Name) < 2 {
		problems.Addf("name must be at least 2 characters")
	}
	str(f.Description, &c.Description, "description", 1000)
	if f.IsActive != nil {
		c.Active = *f.IsActive
	}
	if f.IsTrusted != nil {
		c.Trusted = *f.IsTrusted
	}
	if str(f.ContactEmail, &c.ContactEmail, "contact_email", 255) && c.ContactEmail != "" {
		if a, err := mail.ParseAddress(c.ContactEmail); err != nil || a.Address != c.ContactEmail {
			problems.Addf("contact_email must be a plain e-mail address such as ops@example.com")
		}
	}
	if str(f.WebsiteURL, &c.WebsiteURL, "website_url", 500) && c.WebsiteURL != "" {
		checkHTTPURL("website_url", c.WebsiteURL, problems)
	}
	if str(f.WebhookURL, &c.WebhookURL, "webhook_url", 500) && c.WebhookURL != "" {
		checkHTTPURL("webhook_url", c.WebhookURL, problems)
	}
	num(f.AccessTokenLifetime, &c.AccessTokenLifetime, "access_token_lifetime", 300, 86400)
	if f.RefreshTokenLifetime.Set {
		c.RefreshTokenLifetime = f.RefreshTokenLifetime.Value
		if v := c.RefreshTokenLifetime; v != nil && (*v < 3600 || *v > 365*86400) {
			problems.Addf("refresh_token_lifetime must be null or between 3600 and %d", 365*86400)
		}
	}
	num(f.RateLimitPerMinute, &c.RateLimitPerMinute, "rate_limit_per_minute", 1, 1_000_000)
	num(f.RateLimitPerHour, &c.RateLimitPerHour, "rate_limit_per_hour", 60, 60_000_000)
	if f.AllowedIPs != nil {
		c.AllowedIPs = normalizeIPs(*f.AllowedIPs, problems)
	}
	if f.Audiences != nil {
		c.Audiences = uriList("audiences", *f.Audiences, problems)
	}
	if f.RedirectURIs != nil {
		c.RedirectURIs = uriList("redirect_uris", *f.RedirectURIs, problems)
		for _, u := range c.RedirectURIs {
			if p := oauth.RedirectURIProblem(u); p != "" {
				problems.Addf("redirect_uris: %s %s", web.QuoteList([]string{u}, 10), p)
			}
		}
	}
	if f.GrantTypes != nil {
		c.GrantTypes = []string{}
		for _, g := range *f.GrantTypes {
			if !slices.Contains(knownGrants, g) {
				problems.Addf("grant_types: %s is not one of %s", web.QuoteList([]string{g}, 10), strings.Join(knownGrants, ", "))
			} else if !slices.Contains(c.GrantTypes, g) {
				c.GrantTypes = append(c.GrantTypes, g)
			}
		}
	}
	if f.TokenEndpointAuthMethod != nil {
		c.TokenEndpointAuthMethod = *f.TokenEndpointAuthMethod
	}
	if f.DPoPBoundAccessTokens != nil {
		c.DPoPBoundAccessTokens = *f.DPoPBoundAccessTokens
	}
	if f.TLSClientCertificateBoundAccessTokens != nil {
		c.TLSClientCertificateBoundAccessTokens = *f.TLSClientCertificateBoundAccessTokens
	}
	f.applyCredentials(c, problems)
}

// scopeRefs returns the scope references of the body (scope_ids and the
// docs' scopes together), and whether any were given.
func (f clientFields) scopeRefs() ([]string, bool) {
	if f.ScopeIDs == nil && f.Scopes == nil {
		return nil, false
	}
	var refs []string
	if f.ScopeIDs != nil {
		refs = append(refs, *f.ScopeIDs...)
	}
	if f.Scopes != nil {
		refs = append(refs, *f.Scopes...)
	}
	return refs, true
}

// checkClientRules checks the rules that tie fields together, after apply.
func checkClientRules(c *store.Client, problems *web.Fields) {
	public := c.Type == wire.ClientTypePublic
	if len(c.GrantTypes) == 0 {
		problems.Addf("grant_types must not be empty")
	}
	if public && slices.Contains(c.GrantTypes, wire.GrantClientCredentials) {
		problems.Addf("grant_types: public clients have no secret and may not use client_credentials")
	}
	if public && slices.Contains(c.GrantTypes, wire.GrantTokenExchange) {
		problems.Addf("grant_types: public clients cannot authenticate, so they may not exchange tokens")
	}
	if slices.Contains(c.GrantTypes, wire.GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		problems.Addf("redirect_uris is required for the authorization_code grant")
	}
	switch m := c.TokenEndpointAuthMethod; {
	case public && m != wire.AuthNone:
		problems.Addf("token_endpoint_auth_method must be %q for public clients", wire.AuthNone)
	case !public && !slices.Contains(confidentialMethods, m):
		problems.Addf("token_endpoint_auth_method must be one of %s for confidential clients", strings.Join(confidentialMethods, ", "))
	}
}

func checkHTTPURL(field, raw string, problems *web.Fields) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems.Addf("%s must be an absolute http(s) URL", field)
	}
}

// uriList validates a list of absolute URIs without fragments (RFC 8707
// §2 for audiences, RFC 6749 §3.1.2 for redirect URIs), deduplicated.
func uriList(field string, in []string, problems *web.Fields) []string {
	if len(in) > 20 {
		problems.Addf("%s may hold at most 20 entries", field)
		return nil
	}
	out := []string{}
	for _, raw := range in {
		u, err := url.Parse(raw)
		switch {
		case len(raw) > 500:
			problems.Addf("%s: entries must be at most 500 characters", field)
		case err != nil || u.Scheme == "" || u.Host == "" && u.Opaque == "" && u.Path == "" || strings.TrimSpace(raw) != raw:
			problems.Addf("%s: %s is not an absolute URI", field, web.QuoteList([]string{raw}, 10))
		case u.Fragment != "" || strings.Contains(raw, "#"):
			problems.Addf("%s: %s must not have a fragment", field, web.QuoteList([]string{raw}, 10))
		case !slices.Contains(out, raw):
			out = append(out, raw)
		}
	}
	return out
}

// normalizeIPs validates allowed_ips entries (an IPv4 or IPv6 address, a
// CIDR, or "*") and returns them in canonical form.
func normalizeIPs(in []string, problems *web.Fields) []string {
	if len(in) > 100 {
		problems.Addf("allowed_ips may hold at most 100 entries")
		return nil
	}
	out := []string{}
	for _, e := range in {
		e = strings.TrimSpace(e)
		var norm string
		if e == "*" {
			norm = e
		} else if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				problems.Addf("allowed_ips: %s is not a valid CIDR", web.QuoteList([]string{e}, 10))
				continue
			}
			norm = p.Masked().String()
		} else {
			a, err := netip.ParseAddr(e)
			if err != nil {
				problems.Addf("allowed_ips: %s is not an IP address, a CIDR or *", web.QuoteList([]string{e}, 10))
				continue
			}
			norm = a.Unmap().String()
		}
		if !slices.Contains(out, norm) {
			out = append(out, norm)
		}
	}
	return out
}
