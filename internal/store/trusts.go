package store

import (
	"context"
	"encoding/json"
	"time"
)

// Trust key sources: where a trust's verification keys come from.
const (
	KeySourceOIDC    = "oidc"     // the issuer's OpenID discovery document names its jwks_uri
	KeySourceJWKSURI = "jwks_uri" // a JWKS fetched from JWKSURI
	KeySourceJWKS    = "jwks"     // a static JWKS held in JWKS
	KeySourceSPIFFE  = "spiffe"   // a SPIFFE trust bundle: from the bundle endpoint in JWKSURI, or static in JWKS
)

// Trust is an external issuer whose tokens authenticate the clients bound
// to it (workload identity federation): a Kubernetes cluster, a SPIFFE
// trust domain, a CI system, another identity provider.
type Trust struct {
	ID          string // UUID
	Name        string // unique, ^[a-z0-9][a-z0-9-]*$
	Description string
	// Issuer is the exact iss of the trust's tokens, unique among trusts.
	// A SPIFFE trust may leave it empty: JWT-SVIDs need not carry iss.
	Issuer    string
	KeySource string // one of the KeySource* constants
	// JWKSURI is the jwks_uri (KeySourceJWKSURI) or the SPIFFE bundle
	// endpoint (KeySourceSPIFFE).
	JWKSURI string
	// JWKS is a static key set (KeySourceJWKS) or SPIFFE bundle.
	JWKS json.RawMessage
	// TrustDomain is the SPIFFE trust domain (example.org), unique among
	// trusts; empty for other sources.
	TrustDomain string
	// Audience is the aud Permiso expects in the trust's tokens.
	Audience string
	// MaxTokenAge bounds how old (since iat) a token may be when presented.
	MaxTokenAge time.Duration
	Active      bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TrustBinding binds a client to an external identity: tokens of the
// trust whose sub matches Subject and whose claims meet Conditions
// authenticate the client. A (trust, subject) pair names one client.
type TrustBinding struct {
	ID      string // UUID
	TrustID string
	// ClientID is the bound client's Client.ID (UUID); reads also fill
	// ClientName with its public client_id.
	ClientID   string
	ClientName string
	// Subject is the exact sub, or for a SPIFFE trust an ID path prefix
	// ending in "/*" (spiffe://example.org/ns/prod/*) that matches whole
	// path segments.
	Subject string
	// Conditions maps a claim path (dots between object members, such as
	// kubernetes.io.namespace) to the values it may take; every condition
	// must hold.
	Conditions map[string][]string
	CreatedAt  time.Time
}

// TrustBindingFilter selects bindings; empty fields select all.
type TrustBindingFilter struct {
	TrustID  string
	ClientID string // Client.ID (UUID)
}

// TrustStore persists trusts and the bindings of clients to them.
type TrustStore interface {
	// CreateTrust: ErrConflict on a duplicate name, issuer or trust domain.
	CreateTrust(ctx context.Context, t Trust) (Trust, error)
	GetTrust(ctx context.Context, name string) (Trust, error)
	ListTrusts(ctx context.Context) ([]Trust, error) // by name
	// UpdateTrust applies fn in a transaction; ID and CreatedAt cannot change.
	UpdateTrust(ctx context.Context, name string, fn func(Trust) (Trust, error)) (Trust, error)
	// DeleteTrust: ErrConflict while a binding uses the trust.
	DeleteTrust(ctx context.Context, name string) error

	// CreateTrustBinding: ErrConflict when the (trust, subject) pair is
	// bound already, ErrNotFound for an unknown trust or client.
	CreateTrustBinding(ctx context.Context, b TrustBinding) (TrustBinding, error)
	ListTrustBindings(ctx context.Context, f TrustBindingFilter) ([]TrustBinding, error) // oldest first
	DeleteTrustBinding(ctx context.Context, id string) error
}
