package clientcredentials

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Transport is an [http.RoundTripper] that sends each request with a token
// from a [Source]: a bearer token (RFC 6750 §2.1), or a DPoP token with a
// fresh proof of the Source's key for this request (RFC 9449 §7). When the
// response is 401 with error="invalid_token" in its WWW-Authenticate
// challenge, it drops the cached token and retries the request once with a
// new one; when it is 401 use_dpop_nonce with a new DPoP-Nonce, it retries
// once with a proof carrying the nonce. Either retry needs a request body
// that can be replayed (no body, or GetBody set).
type Transport struct {
	source *Source
	entry  *entry
	base   http.RoundTripper
}

// Transport returns a [Transport] over base using the Config's scopes and
// audience; a nil base means http.DefaultTransport.
func (s *Source) Transport(base http.RoundTripper) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{source: s, entry: s.def, base: base}
}

// RoundTrip implements [http.RoundTripper].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.source.get(req.Context(), t.entry)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	s := t.source
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	out, err := s.authorize(req, tok)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	nonce := s.wantsNonce(req, resp)
	if !nonce && (resp.StatusCode != http.StatusUnauthorized || !invalidToken(resp.Header)) {
		return resp, nil
	}
	if !nonce {
		s.invalidate(t.entry, tok)
	}
	if !replayable {
		return resp, nil
	}
	if !nonce {
		if tok, err = s.get(req.Context(), t.entry); err != nil {
			return resp, nil
		}
	}
	retry, err := s.authorize(req, tok)
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
	// The first response is replaced; drain it so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp, err = t.base.RoundTrip(retry)
	if err != nil {
		return nil, fmt.Errorf("clientcredentials: retry with a new token: %w", err)
	}
	if s.proofs != nil {
		s.nonces.remember(origin(req.URL), resp.Header)
	}
	return resp, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// invalidToken reports whether a WWW-Authenticate header carries a Bearer
// (RFC 6750 §3) or DPoP (RFC 9449 §7.1) challenge with
// error="invalid_token".
func invalidToken(h http.Header) bool {
	return challengeError(h, wire.TokenTypeBearer) == wire.ErrInvalidToken ||
		challengeError(h, dpop.Scheme) == wire.ErrInvalidToken
}

// authParam returns the value of the auth-param name in a challenge's
// parameter list (RFC 9110 §11.2), quoted or not.
func authParam(params, name string) (string, bool) {
	for params != "" {
		params = strings.TrimLeft(params, " ,")
		k, rest, ok := strings.Cut(params, "=")
		if !ok {
			return "", false
		}
		k = strings.TrimSpace(k)
		rest = strings.TrimLeft(rest, " ")
		var v string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			v, params = b.String(), rest[min(i+1, len(rest)):]
		} else {
			v, params, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
		}
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
