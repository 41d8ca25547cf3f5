package clientcredentials

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// ErrNoSubject is returned by an [ExchangeTransport] for a request whose
// context carries no token to exchange.
var ErrNoSubject = errors.New("clientcredentials: no subject token in the request context")

// ExchangeTransport is an [http.RoundTripper] for the calls a service makes
// while serving a request on behalf of its caller: it exchanges the
// caller's token (by default the bearer token [guard.Guard.Require] let the
// request in with, from the outgoing request's context) for one meant for
// the called service, and sends that. A transaction token the incoming
// request carried is passed on unmodified in the Txn-Token header. A 401
// invalid_token answer drops the exchanged token and retries once, when the
// body can be replayed.
type ExchangeTransport struct {
	ex       *Exchanger
	base     http.RoundTripper
	audience string
	scopes   []string
	// Subject returns the token to exchange for a request; nil means
	// guard.AccessToken of the request's context.
	Subject func(ctx context.Context) string
}

// Transport returns an [ExchangeTransport] over base (nil:
// http.DefaultTransport) for calls to audience with scopes. Give the
// outgoing requests the incoming request's context.
func (e *Exchanger) Transport(base http.RoundTripper, audience string, scopes ...string) *ExchangeTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &ExchangeTransport{ex: e, base: base, audience: audience, scopes: slices.Clone(scopes)}
}

// RoundTrip implements [http.RoundTripper].
func (t *ExchangeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	subject := guard.AccessToken(req.Context())
	if t.Subject != nil {
		subject = t.Subject(req.Context())
	}
	if subject == "" {
		closeBody(req)
		return nil, ErrNoSubject
	}
	tok, err := t.token(req.Context(), subject)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	out, err := t.prepare(req, tok)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !invalidToken(resp.Header) {
		return resp, err
	}
	t.ex.Invalidate(tok)
	if !replayable {
		return resp, nil
	}
	tok, err = t.token(req.Context(), subject)
	if err != nil {
		return resp, nil
	}
	retry, err := t.prepare(req, tok)
	if err != nil {
		return resp, nil
	}
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return t.base.RoundTrip(retry)
}

// token exchanges subject for the transport's audience and scopes,
// forwarding the DPoP proof the incoming request presented it with.
func (t *ExchangeTransport) token(ctx context.Context, subject string) (*oauth2.Token, error) {
	r := ExchangeRequest{SubjectToken: subject, Scopes: t.scopes}
	if t.audience != "" {
		r.Audiences = []string{t.audience}
	}
	if t.Subject == nil {
		r.SubjectTokenDPoP = guard.DPoPProof(ctx)
	}
	return t.ex.Exchange(ctx, r)
}

// prepare clones req with the exchanged token (and its DPoP proof when it
// is bound) and the incoming transaction token.
func (t *ExchangeTransport) prepare(req *http.Request, tok *oauth2.Token) (*http.Request, error) {
	r, err := t.ex.src.authorize(req, tok)
	if err != nil {
		return nil, err
	}
	if txn := guard.RawTxnToken(req.Context()); txn != "" && r.Header.Get(wire.HeaderTxnToken) == "" {
		r.Header.Set(wire.HeaderTxnToken, txn)
	}
	return r, nil
}
