package clientcredentials

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// ExchangeRequest is one token exchange (RFC 8693 §2.1). Only SubjectToken
// is required.
type ExchangeRequest struct {
	// SubjectToken is the token of the party the new token is for,
	// typically the access token the service was called with.
	SubjectToken string
	// SubjectTokenType is a token type identifier; empty means
	// wire.TokenTypeAccessToken.
	SubjectTokenType string
	// SubjectTokenDPoP is the DPoP proof the subject token was presented
	// with, when it is DPoP-bound (guard.DPoPProof of the incoming
	// request): Permiso's proof of the subject's key (the subject_token_dpop
	// parameter, a Permiso extension). Not part of the cache key.
	SubjectTokenDPoP string
	// ActorToken names the acting party explicitly (delegation); empty
	// means the authenticated client is the actor.
	ActorToken string
	// ActorTokenType is required by the RFC with ActorToken; empty means
	// wire.TokenTypeAccessToken.
	ActorTokenType string
	// Audiences are the services the new token is for, each sent as an
	// audience parameter; empty lets the server choose.
	Audiences []string
	// Scopes narrow the new token; empty asks for everything allowed.
	Scopes []string
	// RequestedTokenType is sent when set: wire.TokenTypeAccessToken,
	// wire.TokenTypeJWT or wire.TokenTypeTxnToken.
	RequestedTokenType string
	// RequestContext and RequestDetails are the request_context and
	// request_details parameters of a transaction-token request
	// (draft-ietf-oauth-transaction-tokens-11 §11.1): JSON objects.
	RequestContext json.RawMessage
	RequestDetails json.RawMessage
}

// form returns the request as token endpoint parameters.
func (r *ExchangeRequest) form() (url.Values, error) {
	if r.SubjectToken == "" {
		return nil, errors.New("clientcredentials: token exchange needs a subject token")
	}
	form := url.Values{
		"grant_type":         {wire.GrantTokenExchange},
		"subject_token":      {r.SubjectToken},
		"subject_token_type": {or(r.SubjectTokenType, wire.TokenTypeAccessToken)},
	}
	if r.SubjectTokenDPoP != "" {
		form.Set("subject_token_dpop", r.SubjectTokenDPoP)
	}
	if r.ActorToken != "" {
		form.Set("actor_token", r.ActorToken)
		form.Set("actor_token_type", or(r.ActorTokenType, wire.TokenTypeAccessToken))
	}
	for _, a := range r.Audiences {
		form.Add("audience", a)
	}
	if len(r.Scopes) > 0 {
		form.Set("scope", strings.Join(r.Scopes, " "))
	}
	if r.RequestedTokenType != "" {
		form.Set("requested_token_type", r.RequestedTokenType)
	}
	for name, v := range map[string]json.RawMessage{"request_context": r.RequestContext, "request_details": r.RequestDetails} {
		if len(v) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, fmt.Errorf("clientcredentials: %s must be a JSON object: %w", name, err)
		}
		form.Set(name, string(v))
	}
	return form, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Exchanger obtains tokens by token exchange (RFC 8693) for a service that
// calls other services on behalf of its callers: "this subject token, for
// that audience". It authenticates as its [Config]'s client and shares the
// Config's discovery, retries and circuit breaker. Access tokens are cached
// per subject token, audience, scope and actor until shortly before they
// expire (they never outlive the subject token); transaction tokens, which
// belong to one transaction, are never cached. An Exchanger is safe for
// concurrent use; create one per client and reuse it.
type Exchanger struct {
	src   *Source
	max   int
	group singleflight.Group

	mu    sync.Mutex
	cache map[exchangeKey]*oauth2.Token
}

// exchangeKey identifies a cached exchange: hashes of the tokens (a map of
// raw tokens would hold every credential seen in memory twice) and the
// normalised parameters.
type exchangeKey struct {
	subject, actor [32]byte
	params         string
}

// Exchanger returns an [Exchanger] for c. Its background work (none today
// but the Source's) stops when ctx is done or Close is called.
// Configuration errors are reported by the first exchange.
func (c *Config) Exchanger(ctx context.Context) *Exchanger {
	n := c.ExchangeCacheSize
	if n == 0 {
		n = 10000
	}
	return &Exchanger{src: c.newSource(ctx, false), max: n, cache: make(map[exchangeKey]*oauth2.Token)}
}

// Close releases the Exchanger; cached tokens are dropped.
func (e *Exchanger) Close() {
	e.src.Close()
	e.mu.Lock()
	clear(e.cache)
	e.mu.Unlock()
}

// Token returns a token for audience with scopes (none: everything the
// subject may delegate to it) acting for the subject of subjectToken, an
// access token; the Config's client is the actor. It is cached.
func (e *Exchanger) Token(ctx context.Context, subjectToken, audience string, scopes ...string) (*oauth2.Token, error) {
	req := ExchangeRequest{SubjectToken: subjectToken, Scopes: scopes}
	if audience != "" {
		req.Audiences = []string{audience}
	}
	return e.Exchange(ctx, req)
}

// Exchange performs r, from the cache when an equal request was answered
// before and its token is still valid. Transaction-token requests are
// never cached: use [Exchanger.TxnToken].
func (e *Exchanger) Exchange(ctx context.Context, r ExchangeRequest) (*oauth2.Token, error) {
	if e.src.err != nil {
		return nil, e.src.err
	}
	form, err := r.form()
	if err != nil {
		return nil, err
	}
	if r.RequestedTokenType == wire.TokenTypeTxnToken {
		return e.src.post(ctx, form)
	}
	key := r.key()
	if tok := e.cached(key); tok != nil {
		if h := e.src.cfg.Hooks.OnCacheHit; h != nil {
			h()
		}
		return tok, nil
	}
	ch := e.group.DoChan(string(key.subject[:])+string(key.actor[:])+key.params, func() (any, error) {
		if tok := e.cached(key); tok != nil {
			return tok, nil
		}
		// The request outlives one caller (others may wait on it); the
		// HTTP client's timeout bounds it.
		tok, err := e.src.post(context.WithoutCancel(ctx), form)
		if err != nil {
			return nil, err
		}
		e.store(key, tok)
		return tok, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*oauth2.Token), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("clientcredentials: waiting for token exchange: %w", ctx.Err())
	}
}

// TxnToken requests a transaction token (draft-ietf-oauth-transaction-
// tokens-11, experimental) for the subject of r.SubjectToken: trustDomain
// is its audience, r.Scopes its purpose (required), r.RequestContext and
// r.RequestDetails become its rctx and tctx. The token is for one
// transaction: send it in the Txn-Token header of the calls that
// transaction makes, and request a new one for the next.
func (e *Exchanger) TxnToken(ctx context.Context, trustDomain string, r ExchangeRequest) (string, error) {
	if len(r.Scopes) == 0 {
		return "", errors.New("clientcredentials: a transaction token needs a scope (its purpose)")
	}
	r.Audiences, r.RequestedTokenType = []string{trustDomain}, wire.TokenTypeTxnToken
	tok, err := e.Exchange(ctx, r)
	if err != nil {
		return "", err
	}
	if it, _ := tok.Extra("issued_token_type").(string); it != wire.TokenTypeTxnToken {
		return "", fmt.Errorf("clientcredentials: asked for a transaction token, got issued_token_type %q", it)
	}
	return tok.AccessToken, nil
}

// Invalidate drops tok from the cache, for a token the called service
// refused; the next exchange asks the server again.
func (e *Exchanger) Invalidate(tok *oauth2.Token) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, t := range e.cache {
		if t == tok {
			delete(e.cache, k)
		}
	}
}

func (r *ExchangeRequest) key() exchangeKey {
	aud := slices.Clone(r.Audiences)
	slices.Sort(aud)
	scopes := slices.Clone(r.Scopes)
	slices.Sort(scopes)
	k := exchangeKey{subject: sha256.Sum256([]byte(r.SubjectToken)),
		params: strings.Join([]string{r.SubjectTokenType, r.ActorTokenType, r.RequestedTokenType,
			strings.Join(slices.Compact(aud), " "), strings.Join(slices.Compact(scopes), " ")}, "\x00")}
	if r.ActorToken != "" {
		k.actor = sha256.Sum256([]byte(r.ActorToken))
	}
	return k
}

func (e *Exchanger) cached(k exchangeKey) *oauth2.Token {
	e.mu.Lock()
	tok := e.cache[k]
	e.mu.Unlock()
	if e.src.valid(tok, e.src.now()) {
		return tok
	}
	return nil
}

// store caches tok under k. When the cache is full it drops the tokens
// that can no longer be handed out among a few it looks at, and otherwise
// an arbitrary one (map iteration order is random), so a store is O(1).
func (e *Exchanger) store(k exchangeKey, tok *oauth2.Token) {
	if e.max < 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) >= e.max {
		now, seen := e.src.now(), 0
		for key, t := range e.cache {
			if seen++; seen > 32 {
				break
			}
			if !e.src.valid(t, now) {
				delete(e.cache, key)
			}
		}
		for key := range e.cache {
			if len(e.cache) < e.max {
				break
			}
			delete(e.cache, key)
		}
	}
	e.cache[k] = tok
}

// cacheLen reports the number of cached tokens (for tests).
func (e *Exchanger) cacheLen() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.cache)
}
