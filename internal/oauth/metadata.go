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
	for name, g := range p.grants {
		grants = append(grants, name)
		public = public || g.Public
	}
	slices.Sort(grants)
	// Every method a confidential client can register works at the token,
	// introspection and revocation endpoints alike.
	methods := p.ClientAuthMethods()
	authMethods := slices.Clone(methods)
	if public {
		authMethods = append(authMethods, wire.AuthNone)
	}
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
		RevocationEndpointAuthMethodsSupported:    methods,
		IntrospectionEndpoint:                     iss + PathIntrospect,
		IntrospectionEndpointAuthMethodsSupported: methods,
		// The algorithms of private_key_jwt assertions (RFC 8414 §2).
		TokenEndpointAuthSigningAlgValuesSupported:         AssertionAlgorithms,
		RevocationEndpointAuthSigningAlgValuesSupported:    AssertionAlgorithms,
		IntrospectionEndpointAuthSigningAlgValuesSupported: AssertionAlgorithms,
		AccessTokenSigningAlgValuesSupported:               algs,
		RevocationListEndpoint:                             iss + PathRevocations,
		DPoPSigningAlgValuesSupported:                      p.DPoPAlgorithms(),
		TLSClientCertificateBoundAccessTokens:              p.cfg.MTLS,
	}
	if p.cfg.MTLS && p.cfg.MTLSBaseURL != "" {
		base := p.cfg.MTLSBaseURL
		m.MTLSEndpointAliases = &wire.MTLSEndpointAliases{TokenEndpoint: base + PathToken,
			RevocationEndpoint: base + PathRevoke, IntrospectionEndpoint: base + PathIntrospect}
	}
	if p.cfg.AuthorizationEndpoint {
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

// ClientAuthMethods lists the token_endpoint_auth_method values a
// confidential client may register here: the secret methods,
// private_key_jwt, the federated methods, and the mutual-TLS methods when
// a client certificate can reach Permiso.
func (p *Provider) ClientAuthMethods() []string {
	m := []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost, wire.AuthPrivateKeyJWT,
		wire.AuthFederatedJWT, wire.AuthSPIFFEJWT}
	if p.cfg.MTLS {
		m = append(m, wire.AuthTLSClientAuth, wire.AuthSelfSignedTLSClientAuth)
	}
	return m
}

// MTLSAvailable reports whether a client certificate can reach Permiso,
// and whether client CAs for tls_client_auth are configured.
func (p *Provider) MTLSAvailable() (mtls, clientCAs bool) {
	return p.cfg.MTLS, p.cfg.ClientCAs != nil
}

// Issuer returns Permiso's issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }
