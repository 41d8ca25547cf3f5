package guard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/internal/metadata"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Guard verifies access tokens for one service (one issuer and audience).
// It is safe for concurrent use. Create it with [New]; release it with
// [Guard.Close] or by cancelling the context given to New.
type Guard struct {
	cfg      Config
	log      *slog.Logger
	keys     *keySet
	verifier *jwt.Verifier
	// txnVerifier checks transaction tokens; nil without a TrustDomain.
	txnVerifier *jwt.Verifier
	cache       *tokenCache
	revs        revocations
	group       singleflight.Group
	proofs      *dpop.Verifier
	proofsSeen  *dpop.MemoryReplay
	nonces      *dpop.Nonces // nil: DPoP nonces off
	algs        string       // the DPoP challenge's algs

	mdMu sync.Mutex
	md   *wire.Metadata

	// issuers holds one guard per issuer when Config.Issuers is set; the
	// parent then only routes (see issuers.go).
	issuers map[string]*Guard

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Guard for cfg and starts its background work, bounded by
// ctx: loading (and keeping fresh) the issuer's keys in local mode, and
// polling the revocation list when RevocationPoll is set. It does not wait
// for the issuer: [Guard.Ready] reports when the guard can verify tokens.
// It fails only on an invalid configuration.
func New(ctx context.Context, cfg Config) (*Guard, error) {
	cfg, err := cfg.defaults()
	if err != nil {
		return nil, err
	}
	if len(cfg.Issuers) > 0 {
		g := &Guard{cfg: cfg, log: cfg.Logger, cancel: func() {}}
		if g.issuers, err = newIssuers(ctx, cfg); err != nil {
			return nil, err
		}
		return g, nil
	}
	g := &Guard{cfg: cfg, log: cfg.Logger, cache: newTokenCache(cfg.CacheSize)}
	g.keys = &keySet{
		url:        g.jwksURL,
		hc:         cfg.HTTPClient,
		now:        cfg.Now,
		minRefresh: cfg.JWKSMinRefresh,
	}
	if g.verifier, err = newVerifier(cfg, g.keys); err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if g.txnVerifier, err = newTxnVerifier(cfg, g.keys); err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	if cfg.DPoP.Nonce {
		if g.nonces, err = dpop.NewNonces(cfg.DPoP.NonceSecret, cfg.DPoP.NonceLifetime, cfg.Now); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
	}
	g.proofsSeen = dpop.NewMemoryReplay(cfg.DPoP.ReplayCacheSize, cfg.Now)
	g.proofs, err = dpop.NewVerifier(dpop.Config{
		Algorithms: cfg.DPoP.Algorithms,
		MaxAge:     cfg.DPoP.MaxAge,
		Replay:     g.proofsSeen,
		Nonces:     g.nonces,
		Now:        cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("guard: %w", err)
	}
	g.algs = strings.Join(g.proofs.Algorithms(), " ")
	ctx, g.cancel = context.WithCancel(ctx)
	if cfg.Mode == ModeLocal {
		g.start(func() { g.maintainKeys(ctx) })
		if cfg.RevocationPoll > 0 {
			g.start(func() { g.pollRevocations(ctx) })
		}
	}
	return g, nil
}

func (g *Guard) start(f func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

// Close stops the guard's background work and waits for it to end. Verify
// keeps working with the keys and revocation list held at that point.
func (g *Guard) Close() {
	for _, child := range g.issuers {
		child.Close()
	}
	g.cancel()
	g.wg.Wait()
}

// Ready reports whether the guard can verify tokens: in local mode the keys
// are loaded (and the revocation list fetched once, when followed); in
// introspection mode the issuer's metadata is known. A guard of several
// issuers is ready when every one of them is; [Guard.Issuers] tells which.
func (g *Guard) Ready() bool {
	if g.issuers != nil {
		for _, child := range g.issuers {
			if !child.Ready() {
				return false
			}
		}
		return true
	}
	if g.cfg.Mode == ModeIntrospection {
		g.mdMu.Lock()
		defer g.mdMu.Unlock()
		return g.md != nil
	}
	return g.keys.ready() && (g.cfg.RevocationPoll <= 0 || g.revs.synced.Load())
}

// Status describes the guard's state, for a readiness endpoint or logs.
type Status struct {
	// Ready is what [Guard.Ready] reports.
	Ready bool
	// Revocations describes the copy of the issuer's revocation list.
	Revocations RevocationStatus
	// Issuers is, for a guard of several issuers (Config.Issuers), the
	// status of each, in the configured order; Revocations is then empty.
	Issuers []IssuerStatus
	// DPoPProofsEvicted counts the DPoP proofs the replay cache dropped
	// before their window ended because it was full: each could have been
	// used again. More than zero means DPoPConfig.ReplayCacheSize is too
	// small for this instance's traffic.
	DPoPProofsEvicted int64
}

// Status reports the guard's state. A guard whose revocation feed refuses
// it (Revocations.Unauthorized) or fails keeps enforcing its last complete
// list and stays ready; Revocations.Error says what went wrong.
func (g *Guard) Status() Status {
	if g.issuers != nil {
		st := Status{Ready: g.Ready(), Issuers: g.Issuers()}
		for _, child := range g.issuers {
			st.DPoPProofsEvicted += child.proofsSeen.Evicted()
		}
		return st
	}
	st := Status{Ready: g.Ready(), Revocations: g.revs.statusCopy(), DPoPProofsEvicted: g.proofsSeen.Evicted()}
	st.Revocations.Following = g.cfg.Mode == ModeLocal && g.cfg.RevocationPoll > 0
	st.Revocations.Synced = g.revs.synced.Load()
	st.Revocations.Entries = g.revs.len()
	return st
}

// Verify checks raw, an access token without the "Bearer " prefix, and
// returns its claims. The claims are shared with the cache and must not be
// modified. Errors wrap [ErrInvalidToken] or [ErrUnavailable].
func (g *Guard) Verify(ctx context.Context, raw string) (*wire.Claims, error) {
	return g.VerifyFor(ctx, raw, g.cfg.Audience)
}

// VerifyFor is [Guard.Verify] for the given audience instead of
// Config.Audience. It serves a component that protects several services
// with one guard (one key set, one revocation list, one cache), such as a
// gateway's forward-auth decision: the token must list audience in aud.
func (g *Guard) VerifyFor(ctx context.Context, raw, audience string) (*wire.Claims, error) {
	if audience == "" {
		return nil, invalid("no audience to check the token against")
	}
	c, err := g.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	if !c.Audience.Contains(audience) {
		return nil, invalid("aud %v does not contain %q", []string(c.Audience), audience)
	}
	return c, nil
}

// verify checks everything but the audience: the cache holds tokens for
// every audience, and each caller checks its own on every hit.
func (g *Guard) verify(ctx context.Context, raw string) (*wire.Claims, error) {
	if raw == "" {
		return nil, invalid("empty token")
	}
	if len(raw) > g.cfg.MaxTokenBytes {
		return nil, invalid("token of %d bytes exceeds the limit", len(raw))
	}
	if g.issuers != nil {
		child, err := g.forIssuer(raw)
		if err != nil {
			return nil, err
		}
		return child.verify(ctx, raw)
	}
	now := g.cfg.Now()
	if c, ok := g.cache.get(raw, now); ok {
		if g.revs.revoked(c) {
			return nil, invalid("revoked")
		}
		return c, nil
	}
	if g.cfg.Mode == ModeIntrospection {
		return g.introspect(ctx, raw, now)
	}
	if g.cfg.RevocationPoll > 0 && !g.revs.synced.Load() {
		return nil, fmt.Errorf("%w: revocation list not loaded yet", ErrUnavailable)
	}
	c, err := g.verifyJWT(ctx, raw)
	if err != nil {
		return nil, err
	}
	if g.revs.revoked(c) {
		return nil, invalid("revoked")
	}
	g.cache.put(raw, c, time.Unix(c.Expiry, 0).Add(g.cfg.Leeway), now)
	return c, nil
}

// metadata returns the issuer's metadata, fetching it once.
func (g *Guard) metadata(ctx context.Context) (*wire.Metadata, error) {
	g.mdMu.Lock()
	md := g.md
	g.mdMu.Unlock()
	if md != nil {
		return md, nil
	}
	v, err, _ := g.group.Do("metadata", func() (any, error) {
		md, err := metadata.Fetch(ctx, g.cfg.HTTPClient, g.cfg.Issuer)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		g.mdMu.Lock()
		g.md = md
		g.mdMu.Unlock()
		return md, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*wire.Metadata), nil
}

func (g *Guard) jwksURL(ctx context.Context) (string, error) {
	md, err := g.metadata(ctx)
	if err != nil {
		return "", err
	}
	if md.JWKSURI == "" {
		return "", fmt.Errorf("%w: issuer metadata has no jwks_uri", ErrUnavailable)
	}
	return md.JWKSURI, nil
}

// maintainKeys loads the key set, then refreshes it when its cache lifetime
// ends, retrying failures with backoff, until ctx is done.
func (g *Guard) maintainKeys(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := g.keys.nextRefresh().Sub(g.cfg.Now())
		if wait <= 0 {
			if err := g.keys.refresh(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				wait = min(time.Second<<min(failures, 6), time.Minute)
				g.log.Warn("JWKS refresh failed; keeping cached keys", "consecutive_failures", failures, "retry_in", wait, "error", err)
			} else {
				failures = 0
				wait = g.keys.nextRefresh().Sub(g.cfg.Now())
			}
		}
		t.Reset(max(wait, time.Second))
	}
}

// bearer extracts the token of an RFC 6750 §2.1 Authorization header value.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// BearerToken returns the token of an Authorization header value of the
// form "Bearer <token>" (RFC 6750 §2.1), and whether there was one.
func BearerToken(authorization string) (string, bool) { return bearer(authorization) }
