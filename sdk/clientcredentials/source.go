package clientcredentials

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/permiso-auth/permiso/sdk/dpop"
)

// Source is a caching, self-refreshing token source for one [Config]. It
// implements [oauth2.TokenSource] for the Config's scopes and audience, and
// [Source.TokenFor] serves other (scopes, audience) pairs, each cached
// separately. A Source is safe for concurrent use. Returned tokens are shared
// and must not be modified.
type Source struct {
	cfg   Config
	set   settings
	err   error // configuration error, reported by every Token call
	now   func() time.Time
	log   *slog.Logger
	hc    *http.Client
	group singleflight.Group

	breaker breaker
	def     *entry
	proofs  *dpop.Signer // nil without Config.DPoPKey
	nonces  nonceCache
	cred    credential

	// bg is cancelled by Close or by the context given to TokenSource; it
	// bounds background refreshes.
	bg         context.Context
	cancel     context.CancelFunc
	background bool
	wg         sync.WaitGroup

	mu       sync.Mutex
	entries  map[cacheKey]*entry
	tokenURL string
	closed   bool
}

// cacheKey identifies a cached token: the sorted, space-joined scopes and
// the audience.
type cacheKey struct{ scopes, audience string }

func newKey(scopes []string, audience string) cacheKey {
	s := slices.Clone(scopes)
	slices.Sort(s)
	return cacheKey{scopes: strings.Join(slices.Compact(s), " "), audience: audience}
}

// entry holds the cached token of one key.
type entry struct {
	key      cacheKey
	id       string // singleflight key
	cur      atomic.Pointer[oauth2.Token]
	timer    *time.Timer // guarded by Source.mu
	failures int         // consecutive background failures, guarded by Source.mu
}

func (c *Config) newSource(ctx context.Context, background bool) *Source {
	s := &Source{
		cfg:        *c,
		set:        c.settings(),
		err:        c.validate(),
		now:        c.Now,
		log:        c.Logger,
		hc:         c.HTTPClient,
		background: background && c.RefreshBefore >= 0,
		entries:    make(map[cacheKey]*entry),
	}
	s.cfg.Scopes = slices.Clone(c.Scopes)
	if c.DPoPKey != nil && s.err == nil {
		s.proofs, s.err = dpop.NewSigner(c.DPoPKey)
	}
	if s.err == nil {
		s.cred, s.err = c.newCredential()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 30 * time.Second}
		if c.TLSConfig != nil {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = c.TLSConfig.Clone()
			s.hc.Transport = tr
		}
	}
	s.breaker = breaker{threshold: s.set.breakerThreshold, cooldown: s.set.breakerCooldown}
	s.bg, s.cancel = context.WithCancel(ctx)
	context.AfterFunc(s.bg, s.stopTimers)
	s.def = s.entry(newKey(c.Scopes, c.Audience))
	return s
}

func (s *Source) entry(k cacheKey) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[k]
	if e == nil {
		e = &entry{key: k, id: k.scopes + "\x00" + k.audience}
		s.entries[k] = e
	}
	return e
}

// Token returns a valid token for the Config's scopes and audience, from the
// cache when possible. It implements [oauth2.TokenSource].
func (s *Source) Token() (*oauth2.Token, error) {
	return s.get(context.Background(), s.def)
}

// TokenContext is [Source.Token] with a context that bounds the wait for a
// new token.
func (s *Source) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	return s.get(ctx, s.def)
}

// TokenFor returns a valid token for audience and scopes, which may differ
// from the Config's; each pair is cached and refreshed separately.
func (s *Source) TokenFor(ctx context.Context, audience string, scopes ...string) (*oauth2.Token, error) {
	return s.get(ctx, s.entry(newKey(scopes, audience)))
}

// Invalidate drops tok from the cache if it is still the cached token for
// the Config's scopes and audience, so the next call fetches a new one.
func (s *Source) Invalidate(tok *oauth2.Token) { s.invalidate(s.def, tok) }

func (s *Source) invalidate(e *entry, tok *oauth2.Token) {
	if e.cur.CompareAndSwap(tok, nil) {
		s.log.Debug("cached token invalidated", "scopes", e.key.scopes, "audience", e.key.audience)
	}
}

// Close stops background refreshes and waits for running ones to end. The
// Source keeps serving cached tokens and fetches new ones on demand.
func (s *Source) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.stopTimers()
	s.wg.Wait()
}

func (s *Source) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.timer != nil {
			e.timer.Stop()
			e.timer = nil
		}
	}
}

// valid reports whether tok may still be handed out at now: until
// ExpiryDelta before its expiry, or a quarter of its lifetime before it for
// tokens living less than four ExpiryDeltas.
func (s *Source) valid(tok *oauth2.Token, now time.Time) bool {
	if tok == nil {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	delta := s.set.expiryDelta
	if life := time.Duration(tok.ExpiresIn) * time.Second; life > 0 && life/4 < delta {
		delta = life / 4
	}
	return now.Before(tok.Expiry.Add(-delta))
}

func (s *Source) get(ctx context.Context, e *entry) (*oauth2.Token, error) {
	if tok := e.cur.Load(); s.valid(tok, s.now()) {
		if h := s.cfg.Hooks.OnCacheHit; h != nil {
			h()
		}
		return tok, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	ch := s.group.DoChan(e.id, func() (any, error) { return s.refresh(e, false) })
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("clientcredentials: waiting for token: %w", ctx.Err())
	}
}

// refresh fetches a token for e unless (when not forced) a valid one has
// appeared meanwhile, stores it and schedules its background refresh. The
// fetch outlives any single caller: it is bounded by the HTTP client's
// timeout, and by Close when it is a background refresh.
func (s *Source) refresh(e *entry, force bool) (*oauth2.Token, error) {
	if tok := e.cur.Load(); !force && s.valid(tok, s.now()) {
		return tok, nil
	}
	ctx := context.WithoutCancel(s.bg)
	if force {
		ctx = s.bg
	}
	tok, err := s.fetch(ctx, e.key)
	if err != nil {
		return nil, err
	}
	e.cur.Store(tok)
	s.mu.Lock()
	e.failures = 0
	s.mu.Unlock()
	s.schedule(e, tok, 0)
	return tok, nil
}

// schedule arranges a background refresh of e. With retry zero the delay
// follows the token's lifetime; otherwise it is retry.
func (s *Source) schedule(e *entry, tok *oauth2.Token, retry time.Duration) {
	if !s.background || tok.Expiry.IsZero() {
		return
	}
	delay := retry
	if delay == 0 {
		delay = s.refreshDelay(tok.Expiry.Sub(s.now()))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.bg.Err() != nil {
		return
	}
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(delay, func() { s.backgroundRefresh(e) })
}

// refreshDelay returns when to refresh a token that lives for lifetime: at
// 80% of it or RefreshBefore before expiry, whichever is earlier, minus up to
// 10% of jitter, and never before half of it.
func (s *Source) refreshDelay(lifetime time.Duration) time.Duration {
	at := min(lifetime*8/10, lifetime-s.set.refreshBefore)
	if j := lifetime / 10; j > 0 {
		at -= rand.N(j)
	}
	return max(at, lifetime/2)
}

func (s *Source) backgroundRefresh(e *entry) {
	s.mu.Lock()
	if s.closed || s.bg.Err() != nil {
		s.mu.Unlock()
		return
	}
	e.timer = nil
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	_, err, _ := s.group.Do(e.id, func() (any, error) { return s.refresh(e, true) })
	if err == nil {
		return
	}
	tok := e.cur.Load()
	now := s.now()
	if !s.valid(tok, now) {
		s.log.Warn("background token refresh failed; the next call will fetch", "error", err)
		return
	}
	s.mu.Lock()
	e.failures++
	n := e.failures
	s.mu.Unlock()
	wait := min(s.backoff(n), tok.Expiry.Sub(now)/2)
	s.log.Warn("background token refresh failed; still using the cached token", "retry_in", wait, "error", err)
	s.schedule(e, tok, max(wait, time.Millisecond))
}
