package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// AssertionAlgorithms are the algorithms a private_key_jwt assertion may
// be signed with: asymmetric only, never none or HMAC.
var AssertionAlgorithms = []string{jwt.ES256, jwt.ES384, jwt.EdDSA, jwt.RS256, jwt.PS256}

var algDescription = "The client assertion's alg must be one of " + strings.Join(AssertionAlgorithms, ", ") +
	" (none and HMAC algorithms are refused)"

// assertionTypes are the typ values a client assertion may carry: none,
// the generic JWT, or the explicit type of draft-ietf-oauth-rfc7523bis.
var assertionTypes = []string{"", "JWT", wire.ClientAssertionJWTType}

// precheckAssertion applies the rules of RFC 7523 §3 (as updated by
// draft-ietf-oauth-rfc7523bis) that need nothing but the assertion, so
// their failures can be told to the caller: alg and typ, iss = sub
// (= client_id when sent), aud, exp within the allowed lifetime, jti.
func (p *Provider) precheckAssertion(in *presented) *authFailure {
	tok := in.token
	h, c := &tok.Header, &tok.Claims
	now := p.cfg.Now()
	leeway := p.assertionLeeway()
	switch {
	case !slices.Contains(AssertionAlgorithms, h.Algorithm):
		return failedBecause("assertion_alg", algDescription)
	case !slices.Contains(assertionTypes, h.Type) && !strings.EqualFold(h.Type, "application/"+wire.ClientAssertionJWTType):
		return failedBecause("assertion_typ", `The client assertion's typ must be absent, "JWT" or "`+wire.ClientAssertionJWTType+`"`)
	case c.Issuer == "" || c.Subject == "":
		return failedBecause("assertion_claims", "The client assertion must carry iss and sub, both the client_id")
	case c.Issuer != c.Subject:
		return failedBecause("assertion_claims", "The client assertion's iss and sub must both be the client_id")
	case in.creds.ID != "" && in.creds.ID != c.Subject:
		return failedBecause("client_id_mismatch", "client_id does not match the client assertion's sub")
	case c.ID == "":
		return failedBecause("assertion_claims", "The client assertion must carry a jti, used once")
	case len(c.ID) > 256:
		return failedBecause("assertion_claims", "The client assertion's jti is longer than 256 characters")
	case c.Expiry == 0:
		return failedBecause("assertion_claims", "The client assertion must carry exp")
	case !now.Before(c.Expiry.Time().Add(leeway)):
		return failedBecause("assertion_expired", "The client assertion has expired")
	case c.Expiry.Time().After(now.Add(p.maxAssertionLifetime() + leeway)):
		return failedBecause("assertion_lifetime", fmt.Sprintf("The client assertion's exp must be at most %s ahead", p.maxAssertionLifetime()))
	}
	if desc := p.checkAssertionAudience(h.Type, c.Audience); desc != "" {
		return failedBecause("assertion_aud", desc)
	}
	return nil
}

// checkAssertionAudience follows draft-ietf-oauth-rfc7523bis: the aud of a
// client assertion is the issuer identifier, as its only value. For
// clients written before it, the token endpoint URL is accepted too,
// unless the assertion is explicitly typed (a client that sets
// client-authentication+jwt knows the new rule).
func (p *Provider) checkAssertionAudience(typ string, aud wire.Audience) string {
	iss := p.cfg.Issuer
	want := "The client assertion's aud must be " + iss + " (this server's issuer identifier) as its only value"
	if len(aud) != 1 {
		return want
	}
	if aud[0] == iss {
		return ""
	}
	explicit := strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), wire.ClientAssertionJWTType)
	if !explicit && (aud[0] == iss+PathToken || p.cfg.MTLSBaseURL != "" && aud[0] == p.cfg.MTLSBaseURL+PathToken) {
		return ""
	}
	return want
}

func (p *Provider) maxAssertionLifetime() time.Duration {
	if p.cfg.MaxAssertionLifetime > 0 {
		return p.cfg.MaxAssertionLifetime
	}
	return 5 * time.Minute
}

func (p *Provider) assertionLeeway() time.Duration {
	if p.cfg.AssertionLeeway > 0 {
		return p.cfg.AssertionLeeway
	}
	return 30 * time.Second
}

// checkPrivateKeyJWT verifies an assertion with the client's registered
// keys, then records its jti so it is used once, across replicas.
func (p *Provider) checkPrivateKeyJWT(ctx context.Context, c *store.Client, in *presented) *authFailure {
	keys, fail := p.clientKeys(c)
	if fail != nil {
		return fail
	}
	tok, err := p.assertionVerifier.Verify(withClientKeys(ctx, keys), in.creds.Assertion)
	switch {
	case err == nil:
	case !errors.Is(err, jwt.ErrInvalid):
		return &authFailure{reason: "keys_unavailable", err: err}
	case errors.Is(err, jwt.ErrUnknownKey):
		return &authFailure{reason: "unknown_key", err: err}
	case errors.Is(err, jwt.ErrNotYetValid):
		return &authFailure{reason: "assertion_not_yet_valid", desc: "The client assertion is not valid yet (nbf or iat is in the future)", err: err}
	default:
		return &authFailure{reason: "assertion_signature", err: err}
	}
	exp := tok.Claims.Expiry.Time().Add(p.assertionLeeway())
	switch err := p.replay.Use(ctx, "private_key_jwt", c.ClientID+" "+tok.Claims.ID, exp); {
	case errors.Is(err, replay.ErrReplayed):
		return failedBecause("assertion_replayed", "This client assertion was used before; sign a new one, with a new jti, for every request")
	case err != nil:
		return &authFailure{reason: "replay_unavailable", unavailable: true, err: err}
	}
	return nil
}

// clientKeys returns the client's registered keys: its jwks (parsed once
// per distinct set) or its jwks_uri (fetched and cached by RemoteKeys).
func (p *Provider) clientKeys(c *store.Client) (jwt.KeySet, *authFailure) {
	switch {
	case len(c.JWKS) > 0:
		set, err := p.parsedJWKS(c.JWKS)
		if err != nil {
			return nil, &authFailure{reason: "client_keys", err: err}
		}
		return set, nil
	case c.JWKSURI != "" && p.cfg.RemoteKeys != nil:
		return p.cfg.RemoteKeys.JWKS(c.JWKSURI), nil
	}
	return nil, &authFailure{reason: "client_keys", err: errors.New("client " + c.ClientID + " has no registered keys")}
}

// jwksCache remembers parsed client key sets by content.
type jwksCache struct {
	mu   sync.Mutex
	sets map[[32]byte]*jwt.Set
}

func (p *Provider) parsedJWKS(raw []byte) (*jwt.Set, error) {
	sum := sha256.Sum256(raw)
	c := &p.jwks
	c.mu.Lock()
	set, ok := c.sets[sum]
	c.mu.Unlock()
	if ok {
		return set, nil
	}
	set, err := jwt.ParseJWKS(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.sets == nil || len(c.sets) >= 10000 {
		c.sets = map[[32]byte]*jwt.Set{}
	}
	c.sets[sum] = set
	c.mu.Unlock()
	return set, nil
}

// clientKeysKey carries the key set of the client being authenticated to
// the one assertion verifier.
type clientKeysKey struct{}

func withClientKeys(ctx context.Context, keys jwt.KeySet) context.Context {
	return context.WithValue(ctx, clientKeysKey{}, keys)
}

// contextKeys is the KeySet of the assertion verifier: the keys of the
// client at hand, from the context.
type contextKeys struct{}

func (contextKeys) Key(ctx context.Context, kid string) (*jwt.Key, error) {
	keys, _ := ctx.Value(clientKeysKey{}).(jwt.KeySet)
	if keys == nil {
		return nil, fmt.Errorf("%w: no client keys", remotekeys.ErrUnavailable)
	}
	return keys.Key(ctx, kid)
}

// newAssertionVerifier returns the verifier of private_key_jwt assertions:
// alg, typ, the client's key by kid, the signature, and exp, nbf and iat
// against the clock (iss, sub, aud and jti were checked before).
func (p *Provider) newAssertionVerifier() *jwt.Verifier {
	v, err := jwt.NewVerifier(jwt.Config{Keys: contextKeys{}, Types: assertionTypes, Algorithms: AssertionAlgorithms,
		Require: []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimAudience, jwt.ClaimExpiry, jwt.ClaimID},
		Leeway:  p.assertionLeeway(), Now: p.cfg.Now})
	if err != nil {
		panic("oauth: assertion verifier: " + err.Error()) // the config above is fixed
	}
	return v
}
