package wire

// Metadata is the authorization server metadata document of RFC 8414 §2,
// served at /.well-known/oauth-authorization-server and (with the OpenID
// fields) at /.well-known/openid-configuration.
type Metadata struct {
	Issuer                                             string   `json:"issuer"`
	AuthorizationEndpoint                              string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                                      string   `json:"token_endpoint"`
	JWKSURI                                            string   `json:"jwks_uri"`
	ScopesSupported                                    []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported                             []string `json:"response_types_supported"`
	ResponseModesSupported                             []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                                []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported                  []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpoint                                 string   `json:"revocation_endpoint"`
	RevocationEndpointAuthMethodsSupported             []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpoint                              string   `json:"introspection_endpoint"`
	IntrospectionEndpointAuthMethodsSupported          []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	// MTLSEndpointAliases are the endpoints on the client-certificate
	// listener (RFC 8705 §5).
	MTLSEndpointAliases                        *MTLSEndpointAliases `json:"mtls_endpoint_aliases,omitempty"`
	CodeChallengeMethodsSupported              []string             `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool                 `json:"authorization_response_iss_parameter_supported,omitempty"`
	// OpenID Connect Discovery fields, set on /.well-known/openid-configuration.
	SubjectTypesSupported            []string `json:"subject_types_supported,omitempty"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported,omitempty"`
	// Permiso extensions.
	AccessTokenSigningAlgValuesSupported []string `json:"access_token_signing_alg_values_supported,omitempty"`
	RevocationListEndpoint               string   `json:"revocation_list_endpoint,omitempty"`

	// Sender-constrained tokens: the algorithms of DPoP proofs the token
	// endpoint accepts (RFC 9449 §5.1), and whether it issues
	// certificate-bound access tokens (RFC 8705 §3.3).
	DPoPSigningAlgValuesSupported         []string `json:"dpop_signing_alg_values_supported,omitempty"`
	TLSClientCertificateBoundAccessTokens bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

// MTLSEndpointAliases lists the endpoints a client using mutual TLS calls
// instead of the ordinary ones (RFC 8705 §5).
type MTLSEndpointAliases struct {
	TokenEndpoint         string `json:"token_endpoint,omitempty"`
	RevocationEndpoint    string `json:"revocation_endpoint,omitempty"`
	IntrospectionEndpoint string `json:"introspection_endpoint,omitempty"`
}
