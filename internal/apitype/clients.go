package apitype

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// ScopeBrief is the compact scope object embedded in roles and clients.
type ScopeBrief struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Resource    string `json:"resource"`
	Action      string `json:"action"`
}

// Client is the original's ServiceClientResponse plus Permiso's protocol
// fields. The secret hash is never part of it.
type Client struct {
	ID                      string       `json:"id"`
	ClientID                string       `json:"client_id"`
	Name                    string       `json:"name"`
	Description             string       `json:"description"`
	ClientType              string       `json:"client_type"`
	IsActive                bool         `json:"is_active"`
	IsTrusted               bool         `json:"is_trusted"`
	ContactEmail            string       `json:"contact_email"`
	WebsiteURL              string       `json:"website_url"`
	AccessTokenLifetime     int          `json:"access_token_lifetime"`
	RefreshTokenLifetime    *int         `json:"refresh_token_lifetime"`
	RateLimitPerMinute      int          `json:"rate_limit_per_minute"`
	RateLimitPerHour        int          `json:"rate_limit_per_hour"`
	AllowedIPs              []string     `json:"allowed_ips"`
	WebhookURL              string       `json:"webhook_url"`
	LastUsed                *time.Time   `json:"last_used"`
	TotalRequests           int64        `json:"total_requests"`
	CreatedAt               time.Time    `json:"created_at"`
	UpdatedAt               time.Time    `json:"updated_at"`
	Scopes                  []ScopeBrief `json:"scopes"`
	Audiences               []string     `json:"audiences"`
	GrantTypes              []string     `json:"grant_types"`
	RedirectURIs            []string     `json:"redirect_uris"`
	TokenEndpointAuthMethod string       `json:"token_endpoint_auth_method"`
	// Credentials of a client without a secret (docs/machine-identity.md);
	// only what is registered is present.
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                string          `json:"jwks_uri,omitempty"`
	TLSClientAuthSubjectDN string          `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string          `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string          `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string          `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string          `json:"tls_client_auth_san_email,omitempty"`
	CanAuthenticate        bool            `json:"can_authenticate"`
	SupportsRefreshTokens  bool            `json:"supports_refresh_tokens"`
	// Sender-constrained tokens (RFC 9449 §5.2, RFC 8705 §3.4).
	DPoPBoundAccessTokens                 bool `json:"dpop_bound_access_tokens"`
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens"`
	// TokenExchange is the client's token-exchange policy (docs/delegation.md).
	TokenExchange ExchangePolicy `json:"token_exchange"`
}

// ExchangePolicy is a client's token-exchange policy (RFC 8693,
// docs/delegation.md): the resources it serves, the audiences and scopes it
// may exchange tokens for, delegation, impersonation, the longest actor
// chain, and the clients named in its tokens' may_act.
type ExchangePolicy struct {
	Resources   []string         `json:"resources"`
	Targets     []ExchangeTarget `json:"targets"`
	Delegate    bool             `json:"delegate"`
	Impersonate bool             `json:"impersonate"`
	MaxDepth    int              `json:"max_depth"`
	Actors      []string         `json:"actors"`
}

// ExchangeTarget is an audience a client may exchange tokens for and the
// scopes (names, or ids when writing) a token may carry there.
type ExchangeTarget struct {
	Audience string   `json:"audience"`
	Scopes   []string `json:"scopes"`
}

// ScopeNames lists the client's scopes by name.
func (c Client) ScopeNames() []string {
	out := make([]string, len(c.Scopes))
	for i, s := range c.Scopes {
		out[i] = s.Name
	}
	return out
}

// ClientList is GET /api/v1/service-clients.
type ClientList struct {
	Paging
	Clients []Client `json:"clients"`
}

// ClientFields is the body of POST /api/v1/service-clients and of PUT
// /api/v1/service-clients/{client_id}. A nil field is absent: create uses
// the default, update keeps the current value.
type ClientFields struct {
	Name                    *string     `json:"name,omitempty"`
	Description             *string     `json:"description,omitempty"`
	IsActive                *bool       `json:"is_active,omitempty"`
	IsTrusted               *bool       `json:"is_trusted,omitempty"`
	ContactEmail            *string     `json:"contact_email,omitempty"`
	WebsiteURL              *string     `json:"website_url,omitempty"`
	ScopeIDs                *[]string   `json:"scope_ids,omitempty"` // scope ids or names
	Scopes                  *[]string   `json:"scopes,omitempty"`    // the integration docs' spelling of scope_ids
	AccessTokenLifetime     *int        `json:"access_token_lifetime,omitempty"`
	RefreshTokenLifetime    NullableInt `json:"refresh_token_lifetime,omitzero"`
	RateLimitPerMinute      *int        `json:"rate_limit_per_minute,omitempty"`
	RateLimitPerHour        *int        `json:"rate_limit_per_hour,omitempty"`
	AllowedIPs              *IPList     `json:"allowed_ips,omitempty"`
	WebhookURL              *string     `json:"webhook_url,omitempty"`
	Audiences               *[]string   `json:"audiences,omitempty"`
	GrantTypes              *[]string   `json:"grant_types,omitempty"`
	RedirectURIs            *[]string   `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod *string     `json:"token_endpoint_auth_method,omitempty"`
	// Sender-constrained tokens (RFC 9449 §5.2, RFC 8705 §3.4).
	DPoPBoundAccessTokens                 *bool `json:"dpop_bound_access_tokens,omitempty"`
	TLSClientCertificateBoundAccessTokens *bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// Credentials of a client without a secret: jwks (null removes it),
	// jwks_uri, and exactly one tls_client_auth_* value ("" removes it).
	JWKS         NullableJSON `json:"jwks,omitzero"`
	JWKSURI      *string      `json:"jwks_uri,omitempty"`
	TLSSubjectDN *string      `json:"tls_client_auth_subject_dn,omitempty"`
	TLSSANDNS    *string      `json:"tls_client_auth_san_dns,omitempty"`
	TLSSANURI    *string      `json:"tls_client_auth_san_uri,omitempty"`
	TLSSANIP     *string      `json:"tls_client_auth_san_ip,omitempty"`
	TLSSANEmail  *string      `json:"tls_client_auth_san_email,omitempty"`
	// TokenExchange replaces the token-exchange policy.
	TokenExchange *ExchangePolicy `json:"token_exchange,omitempty"`

	// Set on create only. They are fields here, not in a wrapper struct,
	// so that JSON type errors name the field as the client sent it.
	ClientID     *string `json:"client_id,omitempty"`
	ClientSecret *string `json:"client_secret,omitempty"`
	ClientType   *string `json:"client_type,omitempty"`
}

// NullableInt tells an absent field (Set false) from an explicit null
// (Set, Value nil).
type NullableInt struct {
	Set   bool
	Value *int
}

// IsZero reports an absent field, so omitzero leaves it out.
func (n NullableInt) IsZero() bool { return !n.Set }

func (n NullableInt) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

func (n *NullableInt) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(b, []byte("null")) {
		n.Value = nil
		return nil
	}
	return json.Unmarshal(b, &n.Value)
}

// NullableJSON tells an absent JSON value (Set false) from null (Set,
// Value nil).
type NullableJSON struct {
	Set   bool
	Value json.RawMessage
}

// IsZero reports an absent field, so omitzero leaves it out.
func (n NullableJSON) IsZero() bool { return !n.Set }

func (n NullableJSON) MarshalJSON() ([]byte, error) {
	if n.Value == nil {
		return []byte("null"), nil
	}
	return n.Value, nil
}

func (n *NullableJSON) UnmarshalJSON(b []byte) error {
	n.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.Value = nil
		return nil
	}
	n.Value = append(json.RawMessage(nil), b...)
	return nil
}

// IPList is allowed_ips: a JSON list, or the original's comma-separated
// string when decoding.
type IPList []string

func (l *IPList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = nil
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*l = append(*l, part)
			}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = list
	return nil
}

// ClientCreated is the answer to POST /api/v1/service-clients. The secret
// is shown this once; it is null for a public client. WebhookSecret, also
// shown once, signs the client's webhook calls (present with webhook_url).
type ClientCreated struct {
	Client        Client  `json:"client"`
	ClientSecret  *string `json:"client_secret"`
	WebhookSecret *string `json:"webhook_secret,omitempty"`
}

// ClientChanged is the answer to PUT /api/v1/service-clients/{client_id}:
// the client, and the webhook secret when this change set the first
// webhook_url (shown this once).
type ClientChanged struct {
	Client
	WebhookSecret *string `json:"webhook_secret,omitempty"`
}

// SecretRotation is the body of POST
// /api/v1/service-clients/{client_id}/rotate-secret: how long the previous
// secrets keep working (default 24 h).
type SecretRotation struct {
	// CurrentSecret, when given, must be a live secret of the client.
	CurrentSecret      *string `json:"current_secret,omitempty"`
	GracePeriodSeconds *int64  `json:"grace_period_seconds,omitempty"`
}

// SecretRotated is the answer to a rotation: the new secret, shown once,
// and when the previous ones stop working (null when there were none).
type SecretRotated struct {
	Message                 string     `json:"message"`
	ClientSecret            string     `json:"client_secret"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}
