package clientcredentials

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Transport is an [http.RoundTripper] that sends each request with a bearer
// token from a [Source] (RFC 6750 §2.1). When the response is 401 with
// error="invalid_token" in its WWW-Authenticate challenge, it drops the
// cached token and retries the request once with a new one, provided the
// request body can be replayed (no body, or GetBody set).
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
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	resp, err := t.base.RoundTrip(withBearer(req, tok.AccessToken))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !invalidToken(resp.Header) {
		return resp, err
	}
	t.source.invalidate(t.entry, tok)
	if !replayable {
		return resp, nil
	}
	retry := withBearer(req, "")
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	tok, err = t.source.get(req.Context(), t.entry)
	if err != nil {
		if retry.Body != nil {
			retry.Body.Close()
		}
		return resp, nil
	}
	retry.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	// The first response is replaced; drain it so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp, err = t.base.RoundTrip(retry)
	if err != nil {
		return nil, fmt.Errorf("clientcredentials: retry with a new token: %w", err)
	}
	return resp, nil
}

// withBearer returns a shallow clone of req with its own header map carrying
// the token (none when token is empty).
func withBearer(req *http.Request, token string) *http.Request {
	r := req.Clone(req.Context())
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// invalidToken reports whether a WWW-Authenticate header carries a Bearer
// challenge with error="invalid_token" (RFC 6750 §3).
func invalidToken(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		if code, ok := authParam(params, "error"); ok && code == wire.ErrInvalidToken {
			return true
		}
	}
	return false
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
