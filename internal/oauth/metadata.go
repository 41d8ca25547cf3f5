package oauth

import (
	"slices"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Endpoint paths.
const (
	PathToken          = "/oauth2/token"
	PathIntrospect     = "/oauth2/introspect"
	PathRevoke         = "/oauth2/revoke"
	PathAuthorize      = "/oauth2/authorize"
	PathRevocations    = "/oauth2/revocations"
	PathJWKS           = "/.well-known/jwks.json"
	PathMetadata       = "/.well-known/oauth-authorization-server"
	PathOpenIDMetadata = "/.well-known/openid-configuration"
)

// Metadata returns the RFC 8414 document. It lists only what is really
// supported: the registered grants, both secret auth methods (plus "none"
// when a public grant exists) and the algorithms of the published keys.
func (p *Provider) Metadata(openid bool) wire.Metadata {
	iss := p.cfg.Issuer
	grants := make([]string, 0, len(p.grants))
	public := false
	for g := range p.grants {
		grants = append(grants, g)
		public = public || p.publicGrants[g]
	}
	slices.Sort(grants)
	authMethods := []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost}
	if public {
		authMethods = append(authMethods, wire.AuthNone)
	}
	secretMethods := []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost}
	algs := p.cfg.Keys.Algorithms()
	slices.Sort(algs)
	m := wire.Metadata{
		Issuer:                                    iss,
		TokenEndpoint:                             iss + PathToken,
		JWKSURI:                                   iss + PathJWKS,
		ResponseTypesSupported:                    []string{},
		GrantTypesSupported:                       grants,
		TokenEndpointAuthMethodsSupported:         authMethods,
		RevocationEndpoint:                        iss + PathRevoke,
		RevocationEndpointAuthMethodsSupported:    secretMethods,
		IntrospectionEndpoint:                     iss + PathIntrospect,
		IntrospectionEndpointAuthMethodsSupported: secretMethods,
		AccessTokenSigningAlgValuesSupported:      algs,
		RevocationListEndpoint:                    iss + PathRevocations,
	}
	if p.authorize {
		m.AuthorizationEndpoint = iss + PathAuthorize
		m.ResponseTypesSupported = []string{"code"}
		m.ResponseModesSupported = []string{"query"}
		m.CodeChallengeMethodsSupported = []string{"S256"}
		m.AuthorizationResponseIssParameterSupported = true
	}
	if openid {
		m.SubjectTypesSupported = []string{"public"}
		m.IDTokenSigningAlgValuesSupported = algs
	}
	return m
}
