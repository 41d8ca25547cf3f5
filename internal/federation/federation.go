package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Config configures a [Federation]. Store, Keys and Issuer are required.
type Config struct {
	Store store.TrustStore
	// Keys fetches the keys of OIDC, jwks_uri and SPIFFE bundle endpoint trusts.
	Keys *remotekeys.Cache
	// Issuer is Permiso's issuer identifier: the one audience of a
	// JWT-SVID, and a trust's audience when it names none.
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat; default 30s.
	Leeway time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Federation holds the trusts and bindings and authenticates tokens of
// trusts. It is safe for concurrent use.
type Federation struct {
	cfg      Config
	snap     atomic.Pointer[snapshot]
	verified verifiedCache
}

type snapshot struct {
	byIssuer map[string]*trust
	byDomain map[string]*trust
}

type trust struct {
	store.Trust
	verifier *jwt.Verifier // nil when the trust's keys cannot be used
	problem  string        // why verifier is nil, for the log
	exact    map[string]*store.TrustBinding
	prefixes []*store.TrustBinding // SPIFFE "/*" subjects, longest first
}

// New returns a Federation with no trusts; call Reload to load them.
func New(cfg Config) *Federation {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	f := &Federation{cfg: cfg}
	f.snap.Store(&snapshot{byIssuer: map[string]*trust{}, byDomain: map[string]*trust{}})
	return f
}

// Reload reads every trust and binding from the store.
func (f *Federation) Reload(ctx context.Context) error {
	trusts, err := f.cfg.Store.ListTrusts(ctx)
	if err != nil {
		return fmt.Errorf("load trusts: %w", err)
	}
	bindings, err := f.cfg.Store.ListTrustBindings(ctx, store.TrustBindingFilter{})
	if err != nil {
		return fmt.Errorf("load trust bindings: %w", err)
	}
	s := &snapshot{byIssuer: map[string]*trust{}, byDomain: map[string]*trust{}}
	byID := map[string]*trust{}
	for _, st := range trusts {
		t := &trust{Trust: st, exact: map[string]*store.TrustBinding{}}
		t.verifier, t.problem = f.verifierFor(st)
		if t.problem != "" {
			f.cfg.Logger.Warn("trust keys unusable", "trust", st.Name, "problem", t.problem)
		}
		byID[st.ID] = t
		if st.Issuer != "" {
			s.byIssuer[st.Issuer] = t
		}
		if st.TrustDomain != "" {
			s.byDomain[st.TrustDomain] = t
		}
	}
	for i := range bindings {
		b := &bindings[i]
		t := byID[b.TrustID]
		if t == nil {
			continue
		}
		if t.KeySource == store.KeySourceSPIFFE && strings.HasSuffix(b.Subject, "/*") {
			t.prefixes = append(t.prefixes, b)
		} else {
			t.exact[b.Subject] = b
		}
	}
	for _, t := range byID {
		slices.SortFunc(t.prefixes, func(a, b *store.TrustBinding) int { return len(b.Subject) - len(a.Subject) })
	}
	f.snap.Store(s)
	return nil
}

// verifierFor builds the verifier of a trust, or says why it cannot.
func (f *Federation) verifierFor(t store.Trust) (*jwt.Verifier, string) {
	var keys jwt.KeySet
	switch t.KeySource {
	case store.KeySourceOIDC:
		keys = f.cfg.Keys.OIDC(t.Issuer)
	case store.KeySourceJWKSURI:
		keys = f.cfg.Keys.JWKS(t.JWKSURI)
	case store.KeySourceJWKS:
		set, err := jwt.ParseJWKS(t.JWKS)
		if err != nil {
			return nil, err.Error()
		}
		keys = set
	case store.KeySourceSPIFFE:
		if t.JWKSURI != "" {
			keys = f.cfg.Keys.SPIFFE(t.JWKSURI)
			break
		}
		b, err := remotekeys.ParseBundle(t.JWKS)
		if err != nil {
			return nil, err.Error()
		}
		if b.JWT == nil {
			return nil, "the bundle holds no JWT-SVID key"
		}
		keys = b.JWT
	default:
		return nil, "unknown key source " + t.KeySource
	}
	types := []string{"", "JWT"}
	if t.KeySource == store.KeySourceSPIFFE {
		types = append(types, "JOSE") // JWT-SVID §2.1
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: keys, Types: types, Issuer: t.Issuer,
		Require: []string{jwt.ClaimSubject, jwt.ClaimAudience, jwt.ClaimExpiry}, Leeway: f.cfg.Leeway, Now: f.cfg.Now})
	if err != nil {
		return nil, err.Error()
	}
	return v, ""
}

// Failure is why a federated authentication failed.
type Failure struct {
	// Reason is a short code for logs, metrics and the audit log.
	Reason string
	// Description is safe to show the caller; empty means say nothing
	// more than that authentication failed.
	Description string
	// Unavailable means Permiso could not decide (the trust's keys could
	// not be fetched): the caller may retry.
	Unavailable bool
	// Err carries detail for the log.
	Err error
}

func fail(reason, desc string, err error) *Failure {
	return &Failure{Reason: reason, Description: desc, Err: err}
}

// Match is the trust and binding a token names, found from its unverified
// claims.
type Match struct {
	snap    *snapshot
	trust   *trust
	binding *store.TrustBinding
	// Trust is the trust's name; ClientID the bound client's public client_id.
	Trust    string
	ClientID string
	Issuer   string
	Subject  string
	Method   string // wire.AuthFederatedJWT or wire.AuthSPIFFEJWT
}

// Find returns the trust and binding of an assertion from its unverified
// claims. ok is false when a jwt-bearer assertion's iss is no trust's: it
// is then no federated assertion (it may be a private_key_jwt one). A
// jwt-spiffe assertion is always federated.
func (f *Federation) Find(assertionType string, tok *jwt.Token) (m *Match, ok bool, failure *Failure) {
	s := f.snap.Load()
	sub := tok.Claims.Subject
	var t *trust
	method := wire.AuthFederatedJWT
	switch assertionType {
	case wire.AssertionTypeJWTSPIFFE:
		method = wire.AuthSPIFFEJWT
		td, _, err := ParseSPIFFEID(sub)
		if err != nil {
			return nil, true, fail("assertion_claims", "A JWT-SVID's sub must be a SPIFFE ID: "+err.Error(), nil)
		}
		if t = s.byDomain[td]; t == nil {
			return nil, true, fail("unknown_trust", "", fmt.Errorf("no trust for trust domain %q", td))
		}
	default:
		if t = s.byIssuer[tok.Claims.Issuer]; t == nil {
			return nil, false, nil
		}
	}
	m = &Match{snap: s, trust: t, Trust: t.Name, Issuer: tok.Claims.Issuer, Subject: sub, Method: method}
	if sub == "" {
		return m, true, fail("assertion_claims", "The token has no sub", nil)
	}
	if m.binding = t.exact[sub]; m.binding == nil {
		for _, b := range t.prefixes {
			if spiffeMatch(b.Subject, sub) {
				m.binding = b
				break
			}
		}
	}
	if m.binding == nil {
		return m, true, fail("no_binding", "", fmt.Errorf("trust %q has no binding for subject %q", t.Name, sub))
	}
	m.ClientID = m.binding.ClientName
	return m, true, nil
}

// Remembered returns the match of a token verified before against the
// trusts and bindings as they are now, sent with the same assertion type,
// so a reused token is not even parsed again. Verify still checks it.
func (f *Federation) Remembered(assertionType, raw string) (*Match, bool) {
	v, ok := f.verified.lookup(raw)
	if !ok || v.snap != f.snap.Load() {
		return nil, false
	}
	method := wire.AuthFederatedJWT
	if assertionType == wire.AssertionTypeJWTSPIFFE {
		method = wire.AuthSPIFFEJWT
	}
	if v.match.Method != method {
		return nil, false
	}
	m := v.match
	return &m, true
}

// Verify checks the assertion of a match: the trust is active, the
// signature holds with the trust's keys, iss, sub, aud, exp, nbf, iat,
// the trust's maximum age, and the binding's claim conditions. A token
// seen before against the same trusts and bindings is not verified again:
// only its times and age are checked (first reports whether it was new).
func (f *Federation) Verify(ctx context.Context, m *Match, raw string) (first bool, failure *Failure) {
	t := m.trust
	if !t.Active {
		return false, fail("trust_disabled", "", fmt.Errorf("trust %q is disabled", t.Name))
	}
	now := f.cfg.Now()
	if claims, ok := f.verified.get(raw, m.snap, m.binding); ok && t.verifier != nil {
		if err := t.verifier.CheckTimes(&claims); err != nil {
			return false, timeFailure(err)
		}
		if desc := checkAge(t, &claims, now, f.cfg.Leeway); desc != "" {
			return false, fail("token_too_old", desc, nil)
		}
		return false, nil
	}
	claims, failure := f.verify(ctx, m, raw, now)
	if failure != nil {
		return false, failure
	}
	f.verified.put(raw, m.snap, m.binding, claims, *m, now)
	return true, nil
}

func timeFailure(err error) *Failure {
	if errors.Is(err, jwt.ErrExpired) {
		return fail("assertion_expired", "The token has expired", err)
	}
	return fail("assertion_not_yet_valid", "The token is not valid yet (nbf or iat is in the future)", err)
}

// verify is the full check of Verify.
func (f *Federation) verify(ctx context.Context, m *Match, raw string, now time.Time) (jwt.Claims, *Failure) {
	t := m.trust
	var none jwt.Claims
	if t.verifier == nil {
		return none, &Failure{Reason: "trust_keys", Unavailable: true, Err: fmt.Errorf("trust %q: %s", t.Name, t.problem)}
	}
	tok, err := t.verifier.Verify(ctx, raw)
	switch {
	case err == nil:
	case !errors.Is(err, jwt.ErrInvalid):
		return none, &Failure{Reason: "trust_keys", Unavailable: true, Description: "The trust's keys could not be fetched; try again later", Err: err}
	case errors.Is(err, jwt.ErrAlgorithm):
		return none, fail("assertion_alg", "The token's alg must be an asymmetric algorithm ("+strings.Join(jwt.Algorithms(), ", ")+")", err)
	case errors.Is(err, jwt.ErrType):
		return none, fail("assertion_typ", `The token's typ must be absent or "JWT"`, err)
	case errors.Is(err, jwt.ErrMalformed):
		return none, fail("assertion_malformed", "The client assertion is not a signed JWT", err)
	case errors.Is(err, jwt.ErrUnknownKey), errors.Is(err, jwt.ErrKeyMismatch), errors.Is(err, jwt.ErrSignature):
		return none, fail("assertion_signature", "", err)
	case errors.Is(err, jwt.ErrExpired):
		return none, fail("assertion_expired", "The token has expired", err)
	case errors.Is(err, jwt.ErrNotYetValid):
		return none, fail("assertion_not_yet_valid", "The token is not valid yet (nbf or iat is in the future)", err)
	default:
		return none, fail("assertion_claims", "The token lacks sub, aud or exp", err)
	}
	if t.KeySource == store.KeySourceSPIFFE {
		if td, _, err := ParseSPIFFEID(tok.Claims.Subject); err != nil || td != t.TrustDomain {
			return none, fail("assertion_claims", "A JWT-SVID's sub must be a SPIFFE ID of the trust domain", err)
		}
	}
	if desc := f.checkAudience(t, m.Method, tok.Claims.Audience); desc != "" {
		return none, fail("assertion_aud", desc, fmt.Errorf("aud %q", []string(tok.Claims.Audience)))
	}
	if desc := checkAge(t, &tok.Claims, now, f.cfg.Leeway); desc != "" {
		return none, fail("token_too_old", desc, nil)
	}
	path, err := meets(tok.Payload, m.binding.Conditions)
	if err != nil {
		return none, fail("assertion_malformed", "The token's claims are not a JSON object", err)
	}
	if path != "" {
		return none, fail("binding_conditions", "The token's claims do not meet the conditions of the client's binding ("+path+")",
			fmt.Errorf("condition %q not met", path))
	}
	return tok.Claims, nil
}

// audience returns the aud a trust expects.
func (f *Federation) audience(t *trust) string {
	if t.Audience != "" {
		return t.Audience
	}
	return f.cfg.Issuer
}

// checkAudience applies the trust's audience: a SPIFFE trust's tokens
// carry it as their only audience (draft-ietf-oauth-spiffe-client-auth
// §3.1, which follows draft-ietf-oauth-rfc7523bis); other trusts' tokens
// must contain it.
func (f *Federation) checkAudience(t *trust, method string, aud wire.Audience) string {
	want := f.audience(t)
	if t.KeySource == store.KeySourceSPIFFE || method == wire.AuthSPIFFEJWT {
		if len(aud) != 1 || aud[0] != want {
			return "A JWT-SVID's aud must be " + want + " as its only value"
		}
		return ""
	}
	if !aud.Contains(want) {
		return "The token's aud must contain " + want
	}
	return ""
}

// checkAge bounds how old a token may be: now - iat within the trust's
// maximum age, or, for a token without iat, exp no further ahead.
func checkAge(t *trust, c *jwt.Claims, now time.Time, leeway time.Duration) string {
	max := t.MaxTokenAge
	if max <= 0 {
		return ""
	}
	if c.IssuedAt != 0 {
		if now.Sub(c.IssuedAt.Time()) > max+leeway {
			return fmt.Sprintf("The token was issued more than %s ago; present a fresh one", max)
		}
		return ""
	}
	if c.Expiry.Time().Sub(now) > max+leeway {
		return fmt.Sprintf("The token has no iat and expires more than %s ahead", max)
	}
	return ""
}

// Trusts returns the number of trusts loaded, for metrics and tests.
func (f *Federation) Trusts() int {
	s := f.snap.Load()
	n := len(s.byIssuer)
	for _, t := range s.byDomain {
		if t.Issuer == "" {
			n++
		}
	}
	return n
}

// Enabled reports whether any trust is loaded (so metadata lists the
// federated methods).
func (f *Federation) Enabled() bool { return f.Trusts() > 0 }

// KeyIDs fetches the keys of a trust now and returns their kids (a key
// without one shows as ""), or why they cannot be had.
func (f *Federation) KeyIDs(ctx context.Context, t store.Trust) ([]string, error) {
	v, problem := f.verifierFor(t)
	if v == nil {
		return nil, errors.New(problem)
	}
	var keys []*jwt.Key
	switch t.KeySource {
	case store.KeySourceJWKS:
		set, _ := jwt.ParseJWKS(t.JWKS)
		keys = set.Keys()
	case store.KeySourceSPIFFE:
		if t.JWKSURI == "" {
			b, _ := remotekeys.ParseBundle(t.JWKS)
			keys = b.JWT.Keys()
			break
		}
		fallthrough
	default:
		src, ok := f.keySource(t).(interface {
			Keys(context.Context) ([]*jwt.Key, error)
		})
		if !ok {
			return nil, errors.New("keys cannot be listed")
		}
		var err error
		if keys, err = src.Keys(ctx); err != nil {
			return nil, errors.New(remotekeys.Describe(err))
		}
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out, nil
}

// keySource returns the remote key set of a trust.
func (f *Federation) keySource(t store.Trust) jwt.KeySet {
	switch t.KeySource {
	case store.KeySourceOIDC:
		return f.cfg.Keys.OIDC(t.Issuer)
	case store.KeySourceSPIFFE:
		return f.cfg.Keys.SPIFFE(t.JWKSURI)
	}
	return f.cfg.Keys.JWKS(t.JWKSURI)
}
