package clientcredentials

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/internal/metadata"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// maxResponse bounds a token endpoint response body.
const maxResponse = 1 << 20

// ErrCircuitOpen is returned (wrapped) when the circuit breaker refuses to
// call the authorization server after repeated failures.
var ErrCircuitOpen = errors.New("clientcredentials: circuit breaker open")

// statusError is a non-200 answer of the token endpoint. It unwraps to the
// [*wire.Error] when the body was an OAuth error response.
type statusError struct {
	status     int
	retryAfter time.Duration
	err        error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// transportError is a failure to exchange a request with the server.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// retryable reports whether err is worth retrying and the delay the server
// asked for, if any.
func retryable(err error) (bool, time.Duration) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status >= 500 || se.status == http.StatusTooManyRequests, se.retryAfter
	}
	var te *transportError
	if errors.As(err, &te) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded), 0
	}
	return false, 0
}

// fetch gets a client_credentials token for key from the token endpoint.
func (s *Source) fetch(ctx context.Context, key cacheKey) (*oauth2.Token, error) {
	return s.post(ctx, ccForm(key))
}

// ccForm is the client_credentials request for key.
func ccForm(key cacheKey) url.Values {
	form := url.Values{"grant_type": {wire.GrantClientCredentials}}
	if key.scopes != "" {
		form.Set("scope", key.scopes)
	}
	if key.audience != "" {
		form.Set("resource", key.audience)
	}
	return form
}

// post sends a token request (form, without client authentication) to the
// token endpoint, retrying transient failures with exponential backoff and
// jitter, and consulting the breaker.
func (s *Source) post(ctx context.Context, form url.Values) (*oauth2.Token, error) {
	var last error
	for attempt := 0; ; attempt++ {
		if err := s.breaker.allow(s.now()); err != nil {
			if last != nil {
				err = fmt.Errorf("%w (last error: %v)", err, last)
			}
			s.failed(err)
			return nil, err
		}
		start := time.Now()
		tok, err := s.request(ctx, form)
		if h := s.cfg.Hooks.OnFetch; h != nil {
			h(time.Since(start), err)
		}
		retry, wait := retryable(err)
		s.breaker.record(s.now(), err == nil || !retry)
		if err == nil {
			return tok, nil
		}
		last = err
		if !retry || attempt >= s.set.maxRetries {
			s.failed(err)
			return nil, err
		}
		if wait > s.set.maxBackoff {
			err = fmt.Errorf("clientcredentials: server asked to retry after %s: %w", wait, err)
			s.failed(err)
			return nil, err
		}
		if wait == 0 {
			wait = s.backoff(attempt)
		}
		s.log.Debug("token request failed, retrying", "attempt", attempt+1, "delay", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			err = fmt.Errorf("clientcredentials: waiting to retry: %w (last error: %v)", ctx.Err(), last)
			s.failed(err)
			return nil, err
		case <-t.C:
		}
	}
}

func (s *Source) failed(err error) {
	if h := s.cfg.Hooks.OnFailure; h != nil {
		h(err)
	}
}

// backoff returns the delay before retry attempt+1: exponential from
// MinBackoff, capped at MaxBackoff, with full jitter over its upper half.
func (s *Source) backoff(attempt int) time.Duration {
	d := s.set.minBackoff << min(attempt, 20)
	if d <= 0 || d > s.set.maxBackoff {
		d = s.set.maxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

// request performs one token request: form plus the client's
// authentication.
func (s *Source) request(ctx context.Context, params url.Values) (*oauth2.Token, error) {
	endpoint, err := s.endpoint(ctx)
	if err != nil {
		return nil, err
	}
	var target *url.URL
	if s.proofs != nil {
		if target, err = url.Parse(endpoint); err != nil {
			return nil, fmt.Errorf("clientcredentials: token endpoint: %w", err)
		}
	}
	// A server that wants a DPoP nonce answers use_dpop_nonce with one
	// (RFC 9449 §8): the request is sent again with it, once.
	for attempt := 0; ; attempt++ {
		// Client authentication is built for every attempt: an assertion
		// is used once, and an assertion file may have been replaced.
		form := make(url.Values, len(params)+3)
		for k, v := range params {
			form[k] = v
		}
		basic, err := s.authenticate(ctx, form, endpoint)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, fmt.Errorf("clientcredentials: build token request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if basic != nil {
			basic(req)
		}
		if s.proofs != nil {
			p, err := s.proof(http.MethodPost, target, "")
			if err != nil {
				return nil, err
			}
			req.Header.Set(dpop.HeaderProof, p)
		}
		issued := s.now()
		resp, err := s.hc.Do(req)
		if err != nil {
			return nil, &transportError{fmt.Errorf("clientcredentials: token request: %w", err)}
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
		resp.Body.Close()
		if err != nil {
			return nil, &transportError{fmt.Errorf("clientcredentials: read token response: %w", err)}
		}
		newNonce := s.proofs != nil && s.nonces.remember(origin(target), resp.Header)
		if resp.StatusCode == http.StatusOK {
			return parseToken(body, issued, s.proofs != nil)
		}
		err = responseError(resp, body, issued)
		var we *wire.Error
		if attempt == 0 && newNonce && resp.StatusCode == http.StatusBadRequest && errors.As(err, &we) && we.Code == wire.ErrUseDPoPNonce {
			continue
		}
		return nil, err
	}
}

// responseError turns a non-200 token response into an error.
func responseError(resp *http.Response, body []byte, now time.Time) error {
	se := &statusError{status: resp.StatusCode, retryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	var we wire.Error
	if json.Unmarshal(body, &we) == nil && we.Code != "" {
		we.Status = resp.StatusCode
		se.err = &we
	} else {
		se.err = fmt.Errorf("clientcredentials: token endpoint answered HTTP %d", resp.StatusCode)
	}
	return se
}

// retryAfter parses a Retry-After header (RFC 9110 §10.2.3): seconds or an
// HTTP date. Unparseable or past values give zero.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// parseToken decodes a successful token response (RFC 6749 §5.1): a
// Bearer token (a DPoP token when the request carried a proof), or the N_A
// token of a transaction-token response (RFC 8693 §2.2.1). The scope and
// issued_token_type members, when present, are in the token's Extra.
func parseToken(body []byte, issued time.Time, proofSent bool) (*oauth2.Token, error) {
	var tr wire.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return nil, fmt.Errorf("clientcredentials: decode token response: %w", err)
	}
	if tr.AccessToken == "" {
		return nil, errors.New("clientcredentials: token response has no access_token")
	}
	typ := wire.TokenTypeBearer
	switch {
	case tr.TokenType == wire.TokenTypeNA && tr.IssuedTokenType == wire.TokenTypeTxnToken:
		typ = wire.TokenTypeNA
	case proofSent && strings.EqualFold(tr.TokenType, wire.TokenTypeDPoP):
		typ = wire.TokenTypeDPoP
	case proofSent:
		// RFC 9449 §5: a server that does not support DPoP ignores the
		// proof. The client asked for a bound token; a bearer one is not
		// what it is configured to hold.
		return nil, fmt.Errorf("clientcredentials: the token endpoint answered a DPoP request with token type %q: it does not issue DPoP tokens", tr.TokenType)
	case strings.EqualFold(tr.TokenType, wire.TokenTypeBearer):
	default:
		return nil, fmt.Errorf("clientcredentials: token type %q is not Bearer", tr.TokenType)
	}
	tok := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: typ, ExpiresIn: tr.ExpiresIn}
	if tr.ExpiresIn > 0 {
		tok.Expiry = issued.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	extra := map[string]any{}
	if tr.Scope != "" {
		extra["scope"] = tr.Scope
	}
	if tr.IssuedTokenType != "" {
		extra["issued_token_type"] = tr.IssuedTokenType
	}
	if len(extra) > 0 {
		tok = tok.WithExtra(extra)
	}
	return tok, nil
}

// endpoint returns the token endpoint, discovering and caching it.
func (s *Source) endpoint(ctx context.Context) (string, error) {
	if s.cfg.TokenURL != "" {
		return s.cfg.TokenURL, nil
	}
	s.mu.Lock()
	u := s.tokenURL
	s.mu.Unlock()
	if u != "" {
		return u, nil
	}
	v, err, _ := s.group.Do("\x00discovery", func() (any, error) {
		md, err := metadata.Fetch(ctx, s.hc, s.cfg.IssuerURL)
		if err != nil {
			var st *metadata.StatusError
			if errors.As(err, &st) {
				return "", &statusError{status: st.Status, err: fmt.Errorf("clientcredentials: %w", err)}
			}
			return "", &transportError{fmt.Errorf("clientcredentials: %w", err)}
		}
		u := md.TokenEndpoint
		if a := md.MTLSEndpointAliases; a != nil && a.TokenEndpoint != "" && s.cfg.TLSConfig != nil {
			// RFC 8705 §5: a client using mutual TLS calls the aliases.
			u = a.TokenEndpoint
		}
		if u == "" {
			return "", fmt.Errorf("clientcredentials: metadata of %s has no token_endpoint", s.cfg.IssuerURL)
		}
		s.mu.Lock()
		s.tokenURL = u
		s.mu.Unlock()
		return u, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}
