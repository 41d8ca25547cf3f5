package store

import (
	"encoding/json"
	"time"
)

// Scope is a permission name such as "trade:read".
type Scope struct {
	ID          string
	Name        string // unique, ^[A-Za-z0-9_.:-]+$
	Description string
	Resource    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Role groups scopes; users receive scopes through roles.
type Role struct {
	ID          string
	Name        string // unique
	Description string
	// ScopeIDs is what writes set. Reads fill both ScopeIDs and Scopes.
	ScopeIDs  []string
	Scopes    []Scope
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Client is an OAuth client: a service (confidential) or an app (public).
type Client struct {
	ID                      string // UUID
	ClientID                string // public identifier, unique
	Name                    string
	Description             string
	Type                    string // confidential | public
	Active                  bool
	Trusted                 bool
	GrantTypes              []string
	TokenEndpointAuthMethod string
	// ScopeIDs is what writes set. Reads fill both ScopeIDs and Scopes.
	ScopeIDs             []string
	Scopes               []Scope
	Audiences            []string // the first is the default
	RedirectURIs         []string
	AccessTokenLifetime  int  // seconds
	RefreshTokenLifetime *int // seconds; nil: no refresh tokens
	RateLimitPerMinute   int
	RateLimitPerHour     int
	AllowedIPs           []string // addresses and CIDRs; empty: any
	WebhookURL           string
	// JWKS holds the client's registered public keys (RFC 7591 jwks), for
	// private_key_jwt and self_signed_tls_client_auth; empty when none.
	JWKS json.RawMessage
	// JWKSURI is where the client publishes its keys (RFC 7591 jwks_uri).
	// At most one of JWKS and JWKSURI is set.
	JWKSURI string
	// TLSClientAuth is the one certificate value a tls_client_auth client
	// registered (RFC 8705 §2.1.2).
	TLSClientAuth TLSClientAuth
	// DPoPBoundAccessTokens requires a DPoP proof on every token request
	// of the client, so all its tokens are DPoP-bound (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool
	// TLSClientCertificateBoundAccessTokens binds the client's access
	// tokens to the certificate it authenticated with over mutual TLS
	// (cnf.x5t#S256, RFC 8705 §3.4).
	TLSClientCertificateBoundAccessTokens bool
	// TokenExchange is what the client may do at token exchange (RFC 8693)
	// and who may exchange its tokens; the zero value allows nothing.
	TokenExchange ExchangePolicy
	ContactEmail  string
	WebsiteURL    string
	LastUsed      *time.Time
	TotalRequests int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DefaultExchangeDepth is the longest actor chain a token obtained by
// exchange may carry when a policy sets no MaxDepth.
const DefaultExchangeDepth = 3

// ExchangePolicy is a client's token-exchange policy (docs/delegation.md).
type ExchangePolicy struct {
	// Resources are the identifiers (aud values) of the service this
	// client is. A subject token whose aud names one of them was meant for
	// this client, which may therefore exchange it; any other subject
	// token it may exchange only when the token's may_act names it.
	Resources []string `json:"resources,omitempty"`
	// Targets are the audiences the client may exchange tokens for, each
	// with the scopes a token may carry there (the trust domain of
	// transaction tokens is one of them). None: the client exchanges
	// nothing.
	Targets []ExchangeTarget `json:"targets,omitempty"`
	// Delegate lets the client act for a token's subject with itself named
	// as the actor (the act claim).
	Delegate bool `json:"delegate,omitempty"`
	// Impersonate lets the client obtain tokens indistinguishable from the
	// subject's own (no act claim). Only when explicitly set.
	Impersonate bool `json:"impersonate,omitempty"`
	// MaxDepth bounds the actor chain of the tokens the client obtains; 0
	// means DefaultExchangeDepth.
	MaxDepth int `json:"max_depth,omitempty"`
	// Actors are the client ids that may exchange this client's tokens and
	// act for their subjects: Permiso names them in the may_act claim of
	// every access token it issues to this client (RFC 8693 §4.4).
	Actors []string `json:"actors,omitempty"`
}

// ExchangeTarget is one audience a client may exchange tokens for.
type ExchangeTarget struct {
	Audience string   `json:"audience"`
	Scopes   []string `json:"scopes"`
}

// Depth returns the policy's maximum chain depth.
func (p *ExchangePolicy) Depth() int {
	if p.MaxDepth > 0 {
		return p.MaxDepth
	}
	return DefaultExchangeDepth
}

// Target returns the target for audience, if the policy has one.
func (p *ExchangePolicy) Target(audience string) (ExchangeTarget, bool) {
	for _, t := range p.Targets {
		if t.Audience == audience {
			return t, true
		}
	}
	return ExchangeTarget{}, false
}

// IsZero reports whether the policy allows nothing and names no actor.
func (p *ExchangePolicy) IsZero() bool {
	return len(p.Resources) == 0 && len(p.Targets) == 0 && !p.Delegate && !p.Impersonate &&
		p.MaxDepth == 0 && len(p.Actors) == 0
}

// LoadedClient is a client with its live secrets, as [ClientStore.LoadClients]
// returns them.
type LoadedClient struct {
	Client
	Secrets []ClientSecret
}

// TLSClientAuth fields (RFC 8705 §2.1.2): which certificate value a
// tls_client_auth client registered.
const (
	TLSSubjectDN = "subject_dn"
	TLSSANDNS    = "san_dns"
	TLSSANURI    = "san_uri"
	TLSSANIP     = "san_ip"
	TLSSANEmail  = "san_email"
)

// TLSClientAuth is the registered certificate value of a tls_client_auth
// client: Field is one of the TLS* constants (empty: none registered).
type TLSClientAuth struct {
	Field string
	Value string
}

// ScopeNames returns the names of c.Scopes.
func (c *Client) ScopeNames() []string {
	names := make([]string, len(c.Scopes))
	for i, s := range c.Scopes {
		names[i] = s.Name
	}
	return names
}

// ClientSecret is one stored secret of a client. Several may be valid at once
// during a rotation: the previous one keeps working until ExpiresAt.
type ClientSecret struct {
	ID        string
	ClientID  string // Client.ID (UUID), not the public client_id
	Hash      []byte // HMAC-SHA-256 with the server pepper, or an Argon2id PHC string for imported secrets
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: no expiry
	LastUsed  *time.Time
}

// User is a person who logs in.
type User struct {
	ID                  string // UUID
	Username            string // unique, case-insensitive
	Email               string // unique, case-insensitive
	PasswordHash        string // Argon2id PHC string
	FirstName           string
	LastName            string
	DisplayName         string
	Bio                 string
	Active              bool
	Verified            bool
	Superuser           bool
	FailedLoginAttempts int
	LockedUntil         *time.Time // the end of the latest running lock (of any source)
	// LoginSources is the lockout's state: recent failed logins per
	// source. The account service owns its meaning.
	LoginSources      []LoginSource
	LastLogin         *time.Time
	PasswordChangedAt time.Time
	// RoleIDs is what writes set. Reads fill both RoleIDs and Roles (with their scopes).
	RoleIDs   []string
	Roles     []Role
	CreatedAt time.Time
	UpdatedAt time.Time
}

// LoginSource is a user's failed logins from one source: an IPv4 address,
// an IPv6 /64, or "*" for the lock across every source.
type LoginSource struct {
	Source      string     `json:"source"`
	Failures    int        `json:"failures"`
	Last        time.Time  `json:"last"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// Session is one login of a user through a client.
type Session struct {
	ID           string // UUID
	UserID       string
	ClientID     string // public client_id, empty for the original's login
	IP           string
	UserAgent    string
	CreatedAt    time.Time
	LastActivity time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
}

// RefreshToken is the stored form of an opaque refresh token.
type RefreshToken struct {
	ID        string
	Hash      []byte // SHA-256 of the token; the lookup key
	FamilyID  string
	ParentID  string
	SessionID string
	UserID    string
	ClientID  string // public client_id
	Scope     string // space-separated, fixed at login
	Audience  []string
	// Cnf is the key the family is bound to: a refresh must prove
	// possession of it, and its access tokens carry it.
	Cnf       Confirmation
	CreatedAt time.Time
	ExpiresAt time.Time // absolute cap of the family
	UsedAt    *time.Time
	RevokedAt *time.Time
}

// Confirmation names the key a token is bound to (RFC 7800 cnf): a DPoP
// key's RFC 7638 thumbprint (RFC 9449) or a client certificate's SHA-256
// thumbprint (RFC 8705). The zero value binds to nothing.
type Confirmation struct {
	JKT     string
	X5TS256 string
}

// Bound reports whether c names a key.
func (c Confirmation) Bound() bool { return c.JKT != "" || c.X5TS256 != "" }

// Revocation keeps a revoked access token's jti until the token expires.
type Revocation struct {
	Seq       int64 // assigned by the store, increasing
	JTI       string
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Key states.
const (
	KeyNext    = "next"
	KeyActive  = "active"
	KeyRetired = "retired"
)

// SigningKey is a token-signing key. The private key is encrypted with the
// master key by package keys; the store never sees it in the clear.
type SigningKey struct {
	KID         string
	Alg         string
	PrivateKey  []byte // encrypted
	PublicJWK   json.RawMessage
	State       string
	CreatedAt   time.Time
	ActivatesAt time.Time
	RetiresAt   *time.Time // when it stopped signing
	ExpiresAt   *time.Time // when it leaves the JWKS
}

// AuditEvent records an authentication decision or an admin change.
type AuditEvent struct {
	ID        string
	Time      time.Time
	Type      string // e.g. token.issued, login.failure, client.created
	Outcome   string // success | failure | denied
	ActorType string // user | client | system | anonymous
	ActorID   string
	Target    string
	IP        string
	UserAgent string
	RequestID string
	Details   map[string]any
}

// AuthCode is an authorization code (RFC 6749 §4.1), stored hashed.
type AuthCode struct {
	Hash                []byte
	ClientID            string // public client_id
	UserID              string
	SessionID           string
	RedirectURI         string
	CodeChallenge       string
	CodeChallengeMethod string
	Scope               string
	Audience            []string
	Nonce               string
	// DPoPJKT binds the code to a DPoP key (RFC 9449 §10): the token
	// request that redeems it must prove possession of that key.
	DPoPJKT   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// User token purposes.
const (
	PurposePasswordReset     = "password_reset"
	PurposeEmailVerification = "email_verification"
)

// UserToken is a single-use token mailed to a user, stored hashed.
type UserToken struct {
	Hash      []byte
	UserID    string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}
