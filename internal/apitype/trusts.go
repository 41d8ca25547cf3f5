package apitype

import (
	"encoding/json"
	"time"
)

// Trust is an external issuer whose tokens authenticate the clients bound
// to it (workload identity federation), as GET /api/v1/trusts/{name}
// returns it.
type Trust struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Issuer is the exact iss of the trust's tokens (empty for a SPIFFE
	// trust whose JWT-SVIDs carry none).
	Issuer string `json:"issuer"`
	// KeySource is oidc, jwks_uri, jwks or spiffe.
	KeySource string `json:"key_source"`
	// JWKSURI is set for the jwks_uri source.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// JWKS is a static key set (jwks source).
	JWKS json.RawMessage `json:"jwks,omitempty"`
	// TrustDomain, SPIFFEBundleEndpoint and SPIFFEBundle are the SPIFFE
	// source's trust domain and where its bundle comes from (one of the two).
	TrustDomain          string          `json:"trust_domain,omitempty"`
	SPIFFEBundleEndpoint string          `json:"spiffe_bundle_endpoint,omitempty"`
	SPIFFEBundle         json.RawMessage `json:"spiffe_bundle,omitempty"`
	// Audience is the aud Permiso expects in the trust's tokens (Permiso's
	// issuer when none was given).
	Audience string `json:"audience"`
	// MaxTokenAge is in seconds: how long after iat a token is accepted.
	MaxTokenAge int            `json:"max_token_age"`
	IsActive    bool           `json:"is_active"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`
	Bindings    []TrustBinding `json:"bindings"`
}

// TrustFields is the body of POST /api/v1/trusts and PUT
// /api/v1/trusts/{name}; absent fields keep their value on update.
type TrustFields struct {
	Name                 *string          `json:"name,omitempty"`
	Description          *string          `json:"description,omitempty"`
	Issuer               *string          `json:"issuer,omitempty"`
	KeySource            *string          `json:"key_source,omitempty"`
	JWKSURI              *string          `json:"jwks_uri,omitempty"`
	JWKS                 *json.RawMessage `json:"jwks,omitempty"`
	TrustDomain          *string          `json:"trust_domain,omitempty"`
	SPIFFEBundleEndpoint *string          `json:"spiffe_bundle_endpoint,omitempty"`
	SPIFFEBundle         *json.RawMessage `json:"spiffe_bundle,omitempty"`
	Audience             *string          `json:"audience,omitempty"`
	MaxTokenAge          *int             `json:"max_token_age,omitempty"`
	IsActive             *bool            `json:"is_active,omitempty"`
}

// TrustBinding binds a client to an external identity of a trust.
type TrustBinding struct {
	ID       string `json:"id"`
	Trust    string `json:"trust"`
	ClientID string `json:"client_id"`
	// Subject is the token's exact sub, or for a SPIFFE trust an ID path
	// ending in /* that matches the IDs below it.
	Subject string `json:"subject"`
	// Conditions maps claim paths (kubernetes.io.namespace, repository,
	// ref) to the values they may take.
	Conditions map[string][]string `json:"conditions"`
	CreatedAt  time.Time           `json:"created_at"`
}

// TrustBindingFields is the body of POST /api/v1/trusts/{name}/bindings.
type TrustBindingFields struct {
	ClientID   string              `json:"client_id"`
	Subject    string              `json:"subject"`
	Conditions map[string][]string `json:"conditions,omitempty"`
}

// TrustList is the body of GET /api/v1/trusts.
type TrustList struct {
	Trusts []Trust `json:"trusts"`
	Total  int     `json:"total"`
}

// TrustKeys is the body of GET /api/v1/trusts/{name}/keys: the keys
// Permiso can fetch for the trust right now, or why it cannot.
type TrustKeys struct {
	Trust  string   `json:"trust"`
	KeyIDs []string `json:"kids"`
	Error  string   `json:"error,omitempty"`
}
