package oauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Mount registers the OAuth endpoints on mux.
func (p *Provider) Mount(mux *http.ServeMux) {
	h := func(f web.HandlerFunc) http.Handler { return web.Handle(p.cfg.Logger, f) }
	mux.Handle("POST "+PathToken, h(p.handleToken))
	mux.Handle("POST "+PathIntrospect, h(p.handleIntrospect))
	mux.Handle("POST "+PathRevoke, h(p.handleRevoke))
	mux.Handle("GET "+PathJWKS, http.HandlerFunc(p.handleJWKS))
	mux.Handle("GET "+PathRevocations, h(p.handleRevocations))
	meta := func(openid bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "public, max-age=300")
			w.Header().Set("Access-Control-Allow-Origin", "*")
			web.WriteJSON(w, http.StatusOK, p.Metadata(openid))
		})
	}
	mux.Handle("GET "+PathMetadata, meta(false))
	mux.Handle("GET "+PathOpenIDMetadata, meta(true))
}

// WriteToken writes a token response: the only place that sets the
// no-store headers RFC 6749 §5.1 requires.
func WriteToken(w http.ResponseWriter, v any) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	web.WriteJSON(w, http.StatusOK, v)
}

func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) error {
	form, err := web.ParseForm(w, r)
	if err != nil {
		return err
	}
	req, err := ParseTokenRequest(r, form)
	if err != nil {
		return err
	}
	res, err := p.Token(r.Context(), req)
	if err != nil {
		return err
	}
	// RFC 9449 §8.2: the nonce to use next, so a client is never refused
	// for a stale one while it keeps calling.
	if n := p.DPoPNonce(); n != "" && len(req.DPoP) > 0 {
		w.Header().Set(dpop.HeaderNonce, n)
	}
	WriteToken(w, &res.TokenResponse)
	return nil
}

// clientRequest authenticates the calling client of introspection and
// revocation from the form or Basic header. Public clients may revoke their
// own tokens with their client_id alone (RFC 7009 §2.1), but never introspect.
func (p *Provider) clientRequest(w http.ResponseWriter, r *http.Request, allowPublic bool) (token string, clientID string, admin bool, err error) {
	form, err := web.ParseForm(w, r)
	if err != nil {
		return "", "", false, err
	}
	creds, err := ParseClientCredentials(r, form)
	if err != nil {
		return "", "", false, err
	}
	c, err := p.AuthenticateClient(r.Context(), creds, web.ClientIP(r.Context()), allowPublic)
	if err != nil {
		return "", "", false, err
	}
	token = form.Get("token")
	if token == "" {
		return "", "", false, web.BadRequest("The token parameter is required")
	}
	return token, c.ClientID, wire.HasScope(c.ScopeNames(), "admin:tokens"), nil
}

func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) error {
	token, _, _, err := p.clientRequest(w, r, false)
	if err != nil {
		return err
	}
	res, err := p.Introspect(r.Context(), token)
	if err != nil {
		return web.Unavailable(err)
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, res)
	return nil
}

func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) error {
	token, clientID, admin, err := p.clientRequest(w, r, true)
	if err != nil {
		return err
	}
	err = p.Revoke(r.Context(), token, Revoker{ClientID: clientID, Admin: admin})
	switch {
	case errors.Is(err, ErrNotOwner):
		return web.Errorf(http.StatusBadRequest, wire.ErrUnauthorizedClient, "The token was not issued to this client")
	case err != nil:
		return web.Unavailable(err)
	}
	p.cfg.Audit.Record(r.Context(), revokeEvent(r, clientID))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (p *Provider) handleJWKS(w http.ResponseWriter, r *http.Request) {
	body, etag := p.cfg.Keys.JWKS()
	w.Header().Set("Content-Type", "application/jwk-set+json")
	// Short enough that a key published before it signs (PublishDelay,
	// default 10 min) reaches every cache in time.
	w.Header().Set("Cache-Control", "public, max-age=300, stale-if-error=3600")
	w.Header().Set("ETag", etag)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if strings.Contains(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
