package guard

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

// Mode selects how a [Guard] decides that a token is valid.
type Mode int

const (
	// ModeLocal verifies JWT access tokens locally against the issuer's JWKS.
	// It is the default.
	ModeLocal Mode = iota
	// ModeIntrospection asks the issuer's introspection endpoint (RFC 7662)
	// about every token not seen in the last IntrospectionCacheTTL.
	ModeIntrospection
)

// Signature algorithms a Guard accepts by default; any other of
// [jwt.Algorithms] may be listed in Config.Algorithms. HMAC algorithms and
// "none" are never accepted.
const (
	ES256 = jwt.ES256
	EdDSA = jwt.EdDSA
	RS256 = jwt.RS256
)

// Sentinel errors of [Guard.Verify]; the returned errors wrap one of them
// with a detail meant for logs, not for the caller's client.
var (
	// ErrInvalidToken means the token is malformed, forged, expired,
	// revoked, or not meant for this service.
	ErrInvalidToken = errors.New("guard: invalid token")
	// ErrUnavailable means the token could not be checked because the
	// issuer's keys, revocation list or introspection endpoint could not be
	// reached.
	ErrUnavailable = errors.New("guard: token verification unavailable")
	// ErrNoToken means the request carries no access token.
	ErrNoToken = errors.New("guard: no access token")
	// ErrInvalidProof means the DPoP proof that came with a DPoP-bound
	// token is missing, malformed, too old, replayed or not for this
	// request (answered invalid_dpop_proof). It is [dpop.ErrInvalidProof].
	ErrInvalidProof = dpop.ErrInvalidProof
	// ErrUseNonce means the guard requires a DPoP nonce it issued and the
	// proof has none or a stale one (answered use_dpop_nonce, with the
	// nonce from [Guard.DPoPNonce]). It is [dpop.ErrUseNonce].
	ErrUseNonce = dpop.ErrUseNonce
)

// Config configures a [Guard]. The zero value of every optional field
// selects the documented default.
type Config struct {
	// Issuer is the exact iss value of accepted tokens and the base of the
	// RFC 8414 metadata URL. Required unless Issuers is set.
	Issuer string
	// Issuers, instead of Issuer, accepts tokens of several issuers (the
	// tenants of a Permiso, say): each has its own metadata, keys and
	// revocation list, and a token is verified only with the keys of the
	// issuer its iss names. [Issuer] tells a handler which one it was.
	// Tokens must then be JWTs, in introspection mode too, since the
	// issuer to ask is read from the token.
	Issuers []string
	// Audience is this service's identifier; accepted tokens must list it
	// in aud. Required unless AudiencePerCall is set.
	Audience string
	// AudiencePerCall declares a guard that protects several services and
	// names the audience on each call of [Guard.VerifyFor] (a gateway's
	// forward-auth decision does). Audience must then be empty, and Verify
	// and Require refuse every token.
	AudiencePerCall bool
	// Realm is the realm of WWW-Authenticate challenges; empty means
	// Audience.
	Realm string
	// Algorithms is the allow-list of signature algorithms; empty means
	// ES256, EdDSA and RS256. Any of [jwt.Algorithms] (asymmetric only)
	// may be listed.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat; zero means 30 s,
	// negative means none. At most 5 minutes.
	Leeway time.Duration
	// HTTPClient reaches the issuer; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Mode is ModeLocal (default) or ModeIntrospection.
	Mode Mode
	// ClientID and ClientSecret authenticate the guard to the introspection
	// endpoint (client_secret_basic); required in ModeIntrospection. In
	// local mode, when set, they authenticate the guard to the revocation
	// feed, for issuers that require it.
	ClientID     string
	ClientSecret string
	// IntrospectionCacheTTL is how long an active introspection answer is
	// reused; zero means 5 s.
	IntrospectionCacheTTL time.Duration
	// RevocationPoll, when positive, makes a local-mode guard poll the
	// issuer's revocation list at that interval and refuse revoked tokens.
	// Zero disables it. Values under one second are raised to one second.
	RevocationPoll time.Duration
	// TrustDomain, when set, makes the guard read transaction tokens
	// (draft-ietf-oauth-transaction-tokens-11, experimental): [Guard.Require]
	// verifies the Txn-Token header when a request carries one (its aud
	// must be TrustDomain) and puts it in the context (see [TxnToken]);
	// [WithTxnToken] makes it mandatory. Empty: the header is ignored.
	TrustDomain string
	// MaxTokenBytes bounds accepted tokens; zero means 8 KiB.
	MaxTokenBytes int
	// CacheSize bounds the verified-token cache; zero means 10000 entries,
	// negative disables the cache.
	CacheSize int
	// JWKSMinRefresh is the least time between two JWKS fetches triggered by
	// unknown key ids; zero means 10 s.
	JWKSMinRefresh time.Duration
	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Proof of possession. A token bound to a key (a cnf claim) is always
	// checked, whatever the settings below: a DPoP-bound token (cnf.jkt)
	// only with "Authorization: DPoP" and a valid proof of its key (RFC
	// 9449), a certificate-bound one (cnf.x5t#S256) only over a connection
	// with its client certificate (RFC 8705 §3). Letting one through as a
	// bearer token would defeat the binding.

	// RequireBinding refuses tokens bound to no key (plain bearer
	// tokens), so that every request let through proved it holds its
	// token's key: a copied token is worth nothing.
	RequireBinding bool
	// ExternalURL is the service's base URL as its clients call it, such
	// as "https://api.example.com" or "https://gateway.example.com/mt5":
	// a DPoP proof names the URL the client called (htu), which behind a
	// reverse proxy or gateway is not the one the service sees. The target
	// URI is ExternalURL followed by the request's path. Empty means the
	// URL is rebuilt from the request: https when it arrived over TLS,
	// else http, with its Host header.
	ExternalURL string
	// DPoP tunes the checking of DPoP proofs.
	DPoP DPoPConfig
	// ClientCertificate says where to find the client certificate behind
	// a reverse proxy that terminates TLS; the zero value reads it from
	// the TLS connection only.
	ClientCertificate clientcert.Forwarded
}

// DPoPConfig tunes the checking of DPoP proofs (RFC 9449 §7). The zero
// value selects the documented defaults.
type DPoPConfig struct {
	// Algorithms is the allow-list of proof algorithms; empty means every
	// asymmetric algorithm of [jwt.Algorithms].
	Algorithms []string
	// MaxAge is how old a proof may be; zero means 60 s. Clock skew of
	// 5 s either way is allowed on top.
	MaxAge time.Duration
	// ReplayCacheSize bounds the jti replay cache; zero means 1,000,000
	// proofs (about 60 bytes each, allocated as they come): a minute of
	// proofs at 15,000 a second. Size it for the proofs this instance
	// accepts within MaxAge: when it is full the oldest entries leave
	// early. The cache belongs to this Guard: a proof replayed to another
	// instance of the service is not recognised there, so a captured
	// proof could be used once more per other instance, for the same
	// method and URL, within MaxAge. Turn Nonce on to narrow that window.
	ReplayCacheSize int
	// Nonce makes every proof carry a nonce this service issued (RFC 9449
	// §9): a proof without one is answered 401 use_dpop_nonce with a fresh
	// nonce in the DPoP-Nonce header, which clients (sdk/clientcredentials
	// among them) retry with. Successful DPoP responses carry the current
	// nonce too.
	Nonce bool
	// NonceSecret keys the nonces (at least 32 bytes). Give every instance
	// of a service the same secret so they accept each other's nonces;
	// empty means a random secret known to this Guard only.
	NonceSecret []byte
	// NonceLifetime is how long a nonce is accepted; zero means 5 minutes.
	NonceLifetime time.Duration
}

// defaults returns c with every zero optional field set, or an error naming
// every problem.
func (c Config) defaults() (Config, error) {
	var problems []string
	switch {
	case c.Issuer == "" && len(c.Issuers) == 0:
		problems = append(problems, "Issuer is required")
	case c.Issuer != "" && len(c.Issuers) > 0:
		problems = append(problems, "set Issuer or Issuers, not both")
	}
	c.Issuers = slices.Clone(c.Issuers)
	for i, iss := range c.Issuers {
		if iss == "" {
			problems = append(problems, "Issuers has an empty entry")
		}
		if slices.Contains(c.Issuers[:i], iss) {
			problems = append(problems, fmt.Sprintf("issuer %q is listed twice", iss))
		}
	}
	switch {
	case c.Audience == "" && !c.AudiencePerCall:
		problems = append(problems, "Audience is required")
	case c.Audience != "" && c.AudiencePerCall:
		problems = append(problems, "Audience must be empty with AudiencePerCall")
	}
	if c.Realm == "" {
		c.Realm = c.Audience
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = []string{ES256, EdDSA, RS256}
	}
	c.Algorithms = slices.Clone(c.Algorithms)
	for _, a := range c.Algorithms {
		if !slices.Contains(jwt.Algorithms(), a) {
			problems = append(problems, fmt.Sprintf("algorithm %q is not supported", a))
		}
	}
	switch {
	case c.Leeway == 0:
		c.Leeway = 30 * time.Second
	case c.Leeway < 0:
		c.Leeway = 0
	case c.Leeway > 5*time.Minute:
		problems = append(problems, "Leeway must be at most 5m")
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	switch c.Mode {
	case ModeLocal:
	case ModeIntrospection:
		if c.ClientID == "" || c.ClientSecret == "" {
			problems = append(problems, "ClientID and ClientSecret are required in ModeIntrospection")
		}
	default:
		problems = append(problems, fmt.Sprintf("unknown Mode %d", c.Mode))
	}
	if c.IntrospectionCacheTTL == 0 {
		c.IntrospectionCacheTTL = 5 * time.Second
	}
	if c.RevocationPoll > 0 && c.RevocationPoll < time.Second {
		c.RevocationPoll = time.Second
	}
	if c.MaxTokenBytes <= 0 {
		c.MaxTokenBytes = 8 << 10
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.JWKSMinRefresh <= 0 {
		c.JWKSMinRefresh = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			problems = append(problems, "ExternalURL must be an absolute http(s) URL without query or fragment")
		}
		c.ExternalURL = strings.TrimSuffix(c.ExternalURL, "/")
	}
	if err := c.ClientCertificate.Check(); err != nil {
		problems = append(problems, "ClientCertificate: "+err.Error())
	}
	if len(c.DPoP.NonceSecret) > 0 && len(c.DPoP.NonceSecret) < 32 {
		problems = append(problems, "DPoP.NonceSecret needs at least 32 bytes")
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("guard: invalid config: %s", strings.Join(problems, "; "))
	}
	return c, nil
}
