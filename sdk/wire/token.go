package wire

// Grant types (RFC 6749 §4, RFC 8693).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
)

// Client authentication methods at the token endpoint (RFC 8414 §2).
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthNone              = "none"
	// RFC 7523 §2.2 and OpenID Connect Core §9: a JWT signed with a key the
	// client registered (jwks or jwks_uri).
	AuthPrivateKeyJWT = "private_key_jwt"
	// RFC 8705 §2.1: a certificate from a trusted CA with the registered
	// subject; §2.2: a self-signed certificate among the registered keys.
	AuthTLSClientAuth           = "tls_client_auth"
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
	// Workload identity federation: a JWT issued by a trust the client is
	// bound to, as a jwt-bearer client assertion (as Keycloak's
	// federated-jwt authenticator takes it).
	AuthFederatedJWT = "federated_jwt"
	// draft-ietf-oauth-spiffe-client-auth §4: a SPIFFE JWT-SVID as a
	// jwt-spiffe client assertion.
	AuthSPIFFEJWT = "spiffe_jwt"
)

// Client assertion types (RFC 7523 §2.2, draft-ietf-oauth-spiffe-client-auth
// §3.1) and the explicit typ of client assertions (draft-ietf-oauth-rfc7523bis).
const (
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	AssertionTypeJWTSPIFFE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
	ClientAssertionJWTType = "client-authentication+jwt"
)

// Token types and the JWT `typ` of RFC 9068 access tokens.
const (
	TokenTypeBearer        = "Bearer"
	TokenTypeDPoP          = "DPoP" // RFC 9449 §5: an access token bound to a DPoP key
	AccessTokenJWTType     = "at+jwt"
	HintAccessToken        = "access_token"
	HintRefreshToken       = "refresh_token"
	ClaimTypeAccess        = "access"
	ClaimTypeService       = "service"
	ClientTypeConfidential = "confidential"
	ClientTypePublic       = "public"
)

// TokenResponse is the successful token response of RFC 6749 §5.1.
// SessionID is the original Permiso's extension on user logins.
type TokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// IntrospectionResponse is the RFC 7662 §2.2 response. Inactive tokens are
// encoded as {"active":false} and nothing else.
type IntrospectionResponse struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	Username  string   `json:"username,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       Audience `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	// Permiso extensions, mirroring the access-token claims.
	Scopes    []string `json:"scopes,omitempty"`
	Type      string   `json:"type,omitempty"`
	IsTrusted *bool    `json:"is_trusted,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	// Cnf is the key the token is bound to (RFC 9449 §6.2, RFC 8705 §3.2).
	Cnf *Confirmation `json:"cnf,omitempty"`
	// Act is the actor chain of a delegated token (RFC 8693 §4.1, §4).
	Act *Actor `json:"act,omitempty"`
}
