package authorize

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Bounds on what a browser may send.
const (
	maxParamLen  = 2048
	maxScopes    = 64
	maxResources = 8
	maxLoginLen  = 256
	maxPassword  = 1024
)

// authParams are the parameters of an authorization request, as sent.
// They are kept raw so the login form can carry them and the same checks
// run again when it is submitted.
type authParams struct {
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri,omitempty"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	Scope               *string  `json:"scope,omitempty"` // nil: not sent
	State               string   `json:"state,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Resources           []string `json:"resource,omitempty"`
	LoginHint           string   `json:"login_hint,omitempty"`
	// DPoPJKT binds the code to a DPoP key (RFC 9449 §10): the token
	// request must come with a proof of that key.
	DPoPJKT string `json:"dpop_jkt,omitempty"`
}

// authRequest is a validated authorization request.
type authRequest struct {
	params   authParams
	client   *store.Client
	redirect string   // where to send the browser: the sent or the only registered URI
	scopes   []string // requested ∩ client's (all of the client's when none was asked)
	aud      wire.Audience
}

// authzError is an error the client learns about through its redirect URI
// (RFC 6749 §4.1.2.1).
type authzError struct {
	code, description string
}

func (e *authzError) Error() string { return e.code + ": " + e.description }

func redirectErr(code, format string, args ...any) *authzError {
	return &authzError{code: code, description: fmt.Sprintf(format, args...)}
}

// parseParams reads the query of an authorization request. A repeated
// client_id or redirect_uri makes the request untrustworthy, so it is a
// page error; other repeats are reported to the client (RFC 6749 §3.1).
func parseParams(q url.Values) (authParams, error) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(q[k]) > 1 {
			return authParams{}, errBadRequestPage("The %s parameter is repeated.", k)
		}
		if len(q.Get(k)) > maxParamLen {
			return authParams{}, errBadRequestPage("The %s parameter is too long.", k)
		}
	}
	p := authParams{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"),
		ResponseType: q.Get("response_type"), ResponseMode: q.Get("response_mode"),
		State: q.Get("state"), CodeChallenge: q.Get("code_challenge"),
		CodeChallengeMethod: q.Get("code_challenge_method"), Resources: q["resource"],
		DPoPJKT: q.Get("dpop_jkt"),
	}
	if _, ok := q["scope"]; ok {
		s := q.Get("scope")
		p.Scope = &s
	}
	if hint := q.Get("login_hint"); len(hint) <= maxLoginLen {
		p.LoginHint = hint
	}
	return p, nil
}

// paramProblem finds repeated or oversized parameters once the redirect
// URI is known to be safe to report them to.
func paramProblem(q url.Values) *authzError {
	for k, v := range q {
		if len(v) > 1 && k != "resource" {
			return redirectErr(wire.ErrInvalidRequest, "The %s parameter is repeated", safeName(k))
		}
		for _, s := range v {
			if len(s) > maxParamLen {
				return redirectErr(wire.ErrInvalidRequest, "The %s parameter is too long", safeName(k))
			}
		}
	}
	return nil
}

// validate applies the authorization request rules. Its error is a
// *pageError when the client or redirect URI cannot be trusted (shown to
// the user, never redirected), an *authzError to redirect to the client,
// or an internal error.
func (h *Handler) validate(ctx context.Context, p authParams) (*authRequest, error) {
	if p.ClientID == "" {
		return nil, errBadRequestPage("The request does not name an application (client_id is missing).")
	}
	c, err := h.cfg.Store.GetClient(ctx, p.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, errBadRequestPage("The application is not registered or has been disabled.")
	case err != nil:
		return nil, errUnavailable(err)
	case !c.Active:
		return nil, errBadRequestPage("The application is not registered or has been disabled.")
	}
	req := &authRequest{params: p, client: &c}
	switch {
	case p.RedirectURI == "" && len(c.RedirectURIs) == 1:
		req.redirect = c.RedirectURIs[0]
	case p.RedirectURI == "":
		return nil, errBadRequestPage("The request does not say where to return to (redirect_uri is missing).")
	case oauth.MatchRedirectURI(c.RedirectURIs, p.RedirectURI):
		// Exact string comparison (RFC 9700 §4.1.3): no prefix, no
		// normalisation, so nothing an attacker appends can pass; only a
		// loopback URI's port is free (RFC 8252 §7.3).
		req.redirect = p.RedirectURI
	default:
		return nil, errBadRequestPage("The return address (redirect_uri) is not registered for this application.")
	}
	// A URI registered before the rule held is not used either; Permiso's
	// own console lives at the issuer, whatever scheme the operator chose.
	if oauth.RedirectURIProblem(req.redirect) != "" && !strings.HasPrefix(req.redirect, h.issuer+"/") {
		return nil, errBadRequestPage("The registered return address of this application is not allowed (it must be https, http on a loopback address, or an app's own scheme).")
	}
	if err := h.checkRequest(req); err != nil {
		return req, err
	}
	return req, nil
}

// checkRequest checks everything after the redirect URI; failures are
// reported to the client through it.
func (h *Handler) checkRequest(req *authRequest) error {
	p, c := req.params, req.client
	if !slices.Contains(c.GrantTypes, wire.GrantAuthorizationCode) {
		return redirectErr(wire.ErrUnauthorizedClient, "This client may not use the authorization code grant")
	}
	switch p.ResponseType {
	case "":
		return redirectErr(wire.ErrInvalidRequest, "The response_type parameter is required")
	case "code":
	default:
		return redirectErr(wire.ErrUnsupportedResponseType, "Only response_type=code is supported")
	}
	if p.ResponseMode != "" && p.ResponseMode != "query" {
		return redirectErr(wire.ErrInvalidRequest, "Only response_mode=query is supported")
	}
	if err := checkChallenge(c, p.CodeChallenge, p.CodeChallengeMethod); err != nil {
		return err
	}
	if p.DPoPJKT != "" && !isThumbprint(p.DPoPJKT) {
		return redirectErr(wire.ErrInvalidRequest, "dpop_jkt must be the base64url SHA-256 thumbprint of the DPoP key (RFC 7638)")
	}
	scopes, err := requestedScopes(c, p.Scope)
	if err != nil {
		return err
	}
	req.scopes = scopes
	if len(p.Resources) > maxResources {
		return redirectErr(wire.ErrInvalidTarget, "At most %d resources may be requested", maxResources)
	}
	aud, err := h.cfg.Minter.Audience(c, p.Resources)
	if err != nil {
		if we, ok := web.AsError(err); ok {
			return &authzError{code: we.Code, description: we.Description}
		}
		return err
	}
	req.aud = aud
	return nil
}

// requestedScopes applies the first half of the scope policy: every
// requested scope must be one the client may hold, or the request fails
// with invalid_scope. No scope parameter means all of the client's
// scopes. The user's roles narrow the set further after sign-in.
func requestedScopes(c *store.Client, scope *string) ([]string, error) {
	held := c.ScopeNames()
	if scope == nil || strings.TrimSpace(*scope) == "" {
		return held, nil
	}
	asked := strings.Fields(*scope)
	if len(asked) > maxScopes {
		return nil, redirectErr(wire.ErrInvalidScope, "At most %d scopes may be requested", maxScopes)
	}
	out := make([]string, 0, len(asked))
	for _, s := range asked {
		if !rbac.ScopeNamePattern.MatchString(s) || !slices.Contains(held, s) {
			return nil, redirectErr(wire.ErrInvalidScope, "Scope not allowed for this client: %s", safeName(s))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// intersect returns the elements of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// responseURL adds params to redirect, keeping the query it already has
// (RFC 6749 §3.1.2: the query component must be retained).
func responseURL(redirect string, params url.Values) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return redirect // validated at registration and in validate
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// redirectError sends the browser back to the client with an error,
// state and iss.
func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, req *authRequest, e *authzError) {
	v := url.Values{"error": {e.code}, "iss": {h.issuer}}
	if e.description != "" {
		v.Set("error_description", e.description)
	}
	// An over-long state is not echoed: it is the error being reported.
	if req.params.State != "" && len(req.params.State) <= maxParamLen {
		v.Set("state", req.params.State)
	}
	redirect(w, r, responseURL(req.redirect, v), http.StatusFound)
}

// redirect answers with a redirect that no cache keeps and no referrer
// leaks from.
func redirect(w http.ResponseWriter, r *http.Request, to string, status int) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, to, status)
}

// safeName bounds and cleans a client-supplied name for an error message.
func safeName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// isThumbprint reports whether s has the form of an RFC 7638 SHA-256 JWK
// thumbprint: 32 bytes, unpadded base64url.
func isThumbprint(s string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}
