package clientcredentials

import (
	"context"
	"crypto"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Config describes a client of the client credentials grant. The zero value
// of every optional field selects the documented default. A Config is plain
// data: copy it freely; the state (cache, breaker, background refresh) lives
// in the [Source] that [Config.TokenSource] returns.
type Config struct {
	// IssuerURL is the authorization server's issuer identifier, e.g.
	// "https://auth.example.com". Its RFC 8414 metadata document gives the
	// token endpoint. Required unless TokenURL is set.
	IssuerURL string
	// TokenURL, when set, is used as the token endpoint and discovery is
	// skipped.
	TokenURL string
	// ClientID is the client identifier. Required.
	ClientID string
	// ClientSecret is the client secret. When empty, ClientSecretFile is
	// read on every token request, so a rotated secret file is picked up.
	ClientSecret string
	// ClientSecretFile names a file holding the client secret; surrounding
	// white space is ignored.
	ClientSecretFile string
	// Scopes are the scopes requested; none requests the client's default.
	Scopes []string
	// Audience is sent as the RFC 8707 `resource` parameter and selects the
	// token's audience; empty sends none.
	Audience string
	// DPoPKey, when set, binds the client's tokens to this key (RFC 9449):
	// every token request carries a DPoP proof of it, so the server issues
	// DPoP tokens (token_type DPoP, cnf.jkt), which [Source.Transport] and
	// [Config.Client] send as "Authorization: DPoP" with a fresh proof per
	// request (htm, htu, ath). A copied token is then useless without the
	// key. When a server asks for a nonce (use_dpop_nonce), the request is
	// retried once with it, at the token endpoint and at resource servers.
	// Any crypto.Signer works, so the key may stay in an HSM or a KMS:
	// ECDSA P-256 (ES256, recommended), P-384, P-521, Ed25519 or RSA of at
	// least 2048 bits (PS256). A server that answers a DPoP request with a
	// Bearer token is an error: it does not support DPoP. Tokens of a
	// DPoP Source need this package's transports; a plain
	// oauth2.Transport cannot sign the proofs.
	DPoPKey crypto.Signer
	// AuthMethod is wire.AuthClientSecretBasic (the default when empty) or
	// wire.AuthClientSecretPost, for a client secret.
	AuthMethod string

	// A client without a shared secret (docs/machine-identity.md) sets one
	// of PrivateKey (or PrivateKeyFile), AssertionFile and Assertion, or
	// TLSConfig alone, instead of ClientSecret.

	// PrivateKey authenticates with private_key_jwt (RFC 7523): a fresh
	// assertion, signed with this key, for every token request (iss and
	// sub ClientID, aud the issuer, a random jti, one minute of life). Any
	// crypto.Signer works (ECDSA P-256/384/521, Ed25519, RSA ≥ 2048 bits),
	// so the key may stay in an HSM or a KMS.
	PrivateKey crypto.Signer
	// PrivateKeyFile names a PEM file holding the private key (PKCS #8, SEC
	// 1 or PKCS #1), read when the Source is created.
	PrivateKeyFile string
	// PrivateKeyID is the kid of the assertions; empty means the RFC 7638
	// thumbprint of the public key (see [Thumbprint]), which is the kid
	// `permiso clients create --private-key-jwt` registers.
	PrivateKeyID string
	// AssertionFile names a file holding a token someone else issued for
	// the client, sent as its client assertion and read anew for every
	// token request: the path where Kubernetes projects a service account
	// token, or where a SPIFFE helper writes a JWT-SVID. ClientID may be
	// empty: the server finds the client by the token's issuer and subject.
	AssertionFile string
	// Assertion returns that token for every token request (from a
	// workload API, a cloud SDK, ...), as AssertionFile does.
	Assertion func(ctx context.Context) (string, error)
	// AssertionType is the client_assertion_type of AssertionFile and
	// Assertion: wire.AssertionTypeJWTBearer (the default) or, for a SPIFFE
	// JWT-SVID, wire.AssertionTypeJWTSPIFFE.
	AssertionType string
	// TLSConfig, when set, is the TLS configuration of requests to the
	// authorization server, whose Certificates (or GetClientCertificate)
	// present the client certificate of mutual TLS (RFC 8705). With no
	// other credential the client authenticates by the certificate alone
	// (tls_client_auth, self_signed_tls_client_auth). Discovery then uses
	// the metadata's mtls_endpoint_aliases token endpoint when it has one.
	// Set TLSConfig or HTTPClient, not both.
	TLSConfig *tls.Config
	// HTTPClient sends requests to the authorization server; nil means a
	// client with a 30 s timeout. It must not be a client returned by
	// [Config.Client].
	HTTPClient *http.Client
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
	// Hooks receive metric events; nil functions are skipped.
	Hooks Hooks
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// ExpiryDelta is how long before its expiry a cached token stops being
	// handed out; zero means 10 s.
	ExpiryDelta time.Duration
	// RefreshBefore bounds the background refresh: it happens at 80% of the
	// token's lifetime or at expiry−RefreshBefore, whichever is earlier,
	// minus up to 10% of the lifetime of jitter. Zero means 60 s; a negative
	// value disables background refresh.
	RefreshBefore time.Duration
	// MaxRetries is the number of retries of a failed token request; zero
	// means 3, a negative value means none.
	MaxRetries int
	// MinBackoff is the first retry delay (before jitter); zero means 200 ms.
	MinBackoff time.Duration
	// MaxBackoff caps retry delays, including Retry-After; zero means 10 s.
	MaxBackoff time.Duration
	// BreakerThreshold is the number of consecutive failed requests (network
	// errors, 5xx, 429) that opens the circuit breaker; zero means 5, a
	// negative value disables the breaker.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before one trial
	// request is let through; zero means 30 s.
	BreakerCooldown time.Duration

	// ExchangeCacheSize bounds the tokens an [Exchanger] keeps; zero means
	// 10,000, a negative value disables its cache.
	ExchangeCacheSize int
}

// Hooks are called on token events, for metrics. Each may be nil. They run
// synchronously on the caller's goroutine and must be fast.
type Hooks struct {
	// OnFetch is called after every token endpoint request with its
	// duration and outcome (nil on success).
	OnFetch func(d time.Duration, err error)
	// OnFailure is called when a token could not be obtained after all
	// retries.
	OnFailure func(err error)
	// OnCacheHit is called when a cached token is handed out.
	OnCacheHit func()
}

// Environment variables read by [FromEnv].
const (
	EnvIssuer           = "PERMISO_ISSUER"
	EnvClientID         = "PERMISO_CLIENT_ID"
	EnvClientSecret     = "PERMISO_CLIENT_SECRET"
	EnvClientSecretFile = "PERMISO_CLIENT_SECRET_FILE"
	EnvScopes           = "PERMISO_SCOPES"
	EnvAudience         = "PERMISO_AUDIENCE"
	EnvPrivateKeyFile   = "PERMISO_PRIVATE_KEY_FILE"
	EnvAssertionFile    = "PERMISO_ASSERTION_FILE"
	EnvAssertionType    = "PERMISO_ASSERTION_TYPE"
)

// FromEnv returns a Config filled from the environment: PERMISO_ISSUER,
// PERMISO_CLIENT_ID, PERMISO_CLIENT_SECRET (or PERMISO_CLIENT_SECRET_FILE,
// PERMISO_PRIVATE_KEY_FILE, PERMISO_ASSERTION_FILE with
// PERMISO_ASSERTION_TYPE), PERMISO_SCOPES (space or comma separated) and
// PERMISO_AUDIENCE. Fields whose variable is unset stay empty.
func FromEnv() Config { return fromEnv(os.Getenv) }

func fromEnv(getenv func(string) string) Config {
	return Config{
		IssuerURL:        getenv(EnvIssuer),
		ClientID:         getenv(EnvClientID),
		ClientSecret:     getenv(EnvClientSecret),
		ClientSecretFile: getenv(EnvClientSecretFile),
		Scopes: strings.FieldsFunc(getenv(EnvScopes), func(r rune) bool {
			return r == ' ' || r == ','
		}),
		Audience:       getenv(EnvAudience),
		PrivateKeyFile: getenv(EnvPrivateKeyFile),
		AssertionFile:  getenv(EnvAssertionFile),
		AssertionType:  getenv(EnvAssertionType),
	}
}

// Token requests a new token from the token endpoint, with retries, and
// returns it. It does not cache: use [Config.TokenSource] for that.
func (c *Config) Token(ctx context.Context) (*oauth2.Token, error) {
	s := c.newSource(ctx, false)
	defer s.Close()
	if s.err != nil {
		return nil, s.err
	}
	return s.fetch(ctx, s.def.key)
}

// TokenSource returns a caching, self-refreshing [Source] for c. Background
// refresh stops when ctx is done or [Source.Close] is called; after that the
// source still works but refreshes only on demand. Configuration errors are
// reported by the first Token call.
func (c *Config) TokenSource(ctx context.Context) *Source {
	return c.newSource(ctx, true)
}

// Client returns an HTTP client whose requests carry a token from a new
// [Source] bound to ctx (see [Config.TokenSource]) and which retries once on
// 401 invalid_token. Its transport wraps http.DefaultTransport.
func (c *Config) Client(ctx context.Context) *http.Client {
	return &http.Client{Transport: c.TokenSource(ctx).Transport(nil)}
}

func (c *Config) validate() error {
	var problems []string
	if c.IssuerURL == "" && c.TokenURL == "" {
		problems = append(problems, "IssuerURL or TokenURL is required")
	}
	problems = c.validateCredentials(problems)
	switch c.AuthMethod {
	case "", wire.AuthClientSecretBasic, wire.AuthClientSecretPost:
	default:
		problems = append(problems, fmt.Sprintf("AuthMethod %q is not supported", c.AuthMethod))
	}
	if c.DPoPKey != nil {
		if _, err := dpop.NewSigner(c.DPoPKey); err != nil {
			problems = append(problems, "DPoPKey: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("clientcredentials: invalid config: %s", strings.Join(problems, "; "))
	}
	return nil
}

// secret returns the client secret, reading ClientSecretFile if needed.
func (c *Config) secret() (string, error) {
	if c.ClientSecret != "" {
		return c.ClientSecret, nil
	}
	b, err := os.ReadFile(c.ClientSecretFile)
	if err != nil {
		return "", fmt.Errorf("clientcredentials: read client secret: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("clientcredentials: client secret file %s is empty", c.ClientSecretFile)
	}
	return s, nil
}

// settings are the defaulted knobs of a Config.
type settings struct {
	expiryDelta, refreshBefore time.Duration
	maxRetries                 int
	minBackoff, maxBackoff     time.Duration
	breakerThreshold           int
	breakerCooldown            time.Duration
}

func (c *Config) settings() settings {
	s := settings{
		expiryDelta:      orDuration(c.ExpiryDelta, 10*time.Second),
		refreshBefore:    orDuration(c.RefreshBefore, 60*time.Second),
		maxRetries:       c.MaxRetries,
		minBackoff:       orDuration(c.MinBackoff, 200*time.Millisecond),
		maxBackoff:       orDuration(c.MaxBackoff, 10*time.Second),
		breakerThreshold: c.BreakerThreshold,
		breakerCooldown:  orDuration(c.BreakerCooldown, 30*time.Second),
	}
	if s.maxRetries == 0 {
		s.maxRetries = 3
	} else if s.maxRetries < 0 {
		s.maxRetries = 0
	}
	if s.breakerThreshold == 0 {
		s.breakerThreshold = 5
	}
	return s
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
