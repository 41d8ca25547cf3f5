package api

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func (a *API) mountAuth(mux *http.ServeMux) {
	a.handle(mux, "POST /api/v1/auth/service-token", a.serviceToken)
	a.handle(mux, "POST /api/v1/auth/introspect", a.introspect)
	a.handle(mux, "POST /api/v1/auth/revoke", a.revoke)
}

// originalTokenResponse is the original /api/v1/auth token shape.
type originalTokenResponse struct {
	AccessToken  string  `json:"access_token"`
	TokenType    string  `json:"token_type"`
	ExpiresIn    int64   `json:"expires_in"`
	RefreshToken *string `json:"refresh_token"`
	Scope        *string `json:"scope"`
	SessionID    *string `json:"session_id"`
}

// OriginalToken converts a token result to the original's shape.
func OriginalToken(res *oauth.TokenResult) originalTokenResponse {
	out := originalTokenResponse{AccessToken: res.AccessToken, TokenType: res.TokenType, ExpiresIn: res.ExpiresIn}
	if res.RefreshToken != "" {
		out.RefreshToken = &res.RefreshToken
	}
	if res.Scope != "" {
		out.Scope = &res.Scope
	}
	if res.SessionID != "" {
		out.SessionID = &res.SessionID
	}
	return out
}

// AuthError gives an error the original's E-AUTH envelope (error_code,
// status_code, details) while keeping its headers; 401s carry a Bearer
// challenge as the original documented.
func AuthError(err error) error {
	e, ok := web.AsError(err)
	if !ok {
		return err
	}
	out := *e
	out.Extra = map[string]any{"error_code": e.Code, "status_code": e.Status, "details": map[string]any{}}
	for k, v := range e.Extra {
		out.Extra[k] = v
	}
	if e.Status == http.StatusUnauthorized && out.Header.Get("WWW-Authenticate") == "" {
		out.Header = out.Header.Clone()
		(&out).WithHeader("WWW-Authenticate", "Bearer")
	}
	return &out
}

// serviceToken is the original's client-credentials endpoint. It runs the
// same grant as /oauth2/token, so the rules exist once; grant_type may be
// omitted as the original allowed.
func (a *API) serviceToken(w http.ResponseWriter, r *http.Request) error {
	form, err := web.ParseForm(w, r)
	if err != nil {
		return AuthError(err)
	}
	if err := requireClientFields(r, form); err != nil {
		return err
	}
	if g := form.Get("grant_type"); g != "" && g != wire.GrantClientCredentials {
		return AuthError(web.Errorf(http.StatusBadRequest, wire.ErrUnsupportedGrantType, "This endpoint issues client_credentials tokens only"))
	}
	form.Set("grant_type", wire.GrantClientCredentials)
	req, err := oauth.ParseTokenRequest(r, form)
	if err != nil {
		return AuthError(err)
	}
	res, err := a.cfg.OAuth.Token(r.Context(), req)
	if err != nil {
		return AuthError(err)
	}
	oauth.WriteToken(w, OriginalToken(res))
	return nil
}

// requireClientFields answers a service-token request that names no
// client as the original did: 422 with its validation envelope, one
// pydantic-style entry per missing form field. A client authenticating
// another way (HTTP Basic, a client assertion) names itself there; one
// with a client certificate (mutual TLS) sends client_id alone.
func requireClientFields(r *http.Request, form url.Values) error {
	if r.Header.Get("Authorization") != "" || form.Get("client_assertion") != "" {
		return nil
	}
	fields := []string{"client_id", "client_secret"}
	if mtls.FromContext(r.Context()) != nil {
		fields = fields[:1]
	}
	var details []map[string]any
	for _, f := range fields {
		if form.Get(f) == "" {
			details = append(details, map[string]any{"type": "missing", "loc": []string{"body", f}, "msg": "Field required", "input": nil})
		}
	}
	if details == nil {
		return nil
	}
	return web.Invalid("Request validation failed").With("details", details)
}

type tokenBody struct {
	Token         string `json:"token"`
	TokenTypeHint string `json:"token_type_hint,omitempty"`
}

func (b tokenBody) validate() error {
	if b.Token == "" {
		return web.Invalid("Field \"token\" is required")
	}
	if len(b.Token) > 8<<10 {
		return web.Invalid("Field \"token\" is too long")
	}
	return nil
}

// introspect is the original's bearer-authenticated introspection, which
// now really requires admin:tokens and honours revocation and the state of
// the client and user. One exception: a token asking about itself (the
// original's documented remote validation sends the token being checked as
// its own bearer) is answered whatever its audience and scopes, since the
// answer tells its holder nothing they cannot read in it; an inactive one
// is refused as a credential (401), as the original did.
func (a *API) introspect(w http.ResponseWriter, r *http.Request) error {
	presented, ok := presentedToken(r)
	if !ok {
		_, err := a.authenticate(r) // 401 with the challenge
		return err
	}
	var body tokenBody
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(presented), []byte(body.Token)) == 1 {
		if _, err := a.verifyCaller(r); err != nil {
			return err
		}
	} else if _, err := a.requireScope(r, "admin:tokens"); err != nil {
		return err
	}
	res, err := a.cfg.OAuth.Introspect(r.Context(), body.Token)
	if err != nil {
		return web.Unavailable(err)
	}
	out := map[string]any{"active": res.Active, "sub": nil, "username": nil, "client_id": nil,
		"scope": nil, "exp": nil, "iat": nil, "token_type": nil}
	if res.Active {
		out["sub"], out["client_id"], out["scope"], out["exp"], out["iat"] = res.Sub, res.ClientID, res.Scope, res.Exp, res.Iat
		out["aud"], out["iss"], out["jti"], out["scopes"], out["is_trusted"] = res.Aud, res.Iss, res.Jti, res.Scopes, res.IsTrusted
		if res.Username != "" {
			out["username"] = res.Username
		}
		switch res.Type {
		case wire.ClaimTypeService:
			out["token_type"] = "service_token"
		case "refresh":
			out["token_type"] = "refresh_token"
		default:
			out["token_type"] = "access_token"
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// revoke lets a bearer revoke its own tokens (a client the tokens issued
// to it, a user the tokens of their subject), or any token with
// admin:tokens. The original let anyone revoke anything.
func (a *API) revoke(w http.ResponseWriter, r *http.Request) error {
	c, err := a.authenticate(r)
	if err != nil {
		return err
	}
	var body tokenBody
	if err := web.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	by := oauth.Revoker{ClientID: c.ClientID, Admin: wire.HasScope(c.Scopes, "admin:tokens")}
	if c.Type == wire.ClaimTypeAccess {
		// A user revokes only tokens of their own subject, refresh tokens
		// included: the users of one first-party client share its
		// client_id, so the client alone does not make a token theirs.
		by.Subject = c.Subject
	}
	err = a.cfg.OAuth.Revoke(r.Context(), body.Token, by)
	switch {
	case errors.Is(err, oauth.ErrNotOwner):
		a.record(r.Context(), a.event(r, c, "token.revoke_denied", audit.Denied, "", nil))
		return web.Forbidden(wire.ErrForbidden, "You may revoke only your own tokens")
	case err != nil:
		return web.Unavailable(err)
	}
	a.record(r.Context(), a.event(r, c, "token.revoked", audit.Success, "", nil))
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Token revoked successfully"})
	return nil
}
