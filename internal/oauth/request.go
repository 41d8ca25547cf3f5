package oauth

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Limits on what a client may send.
const (
	maxParamLen  = 2048
	maxScopes    = 64
	maxResources = 8
)

// ClientCredentials are the client authentication of a request.
type ClientCredentials struct {
	ID     string
	Secret string
	Method string // client_secret_basic, client_secret_post or none
}

// TokenRequest is a token request parsed once; grants never read the form.
type TokenRequest struct {
	GrantType    string
	Scopes       []string // nil when no scope parameter was sent
	Resources    []string // RFC 8707 resource (and the audience alias)
	Client       ClientCredentials
	Username     string
	Password     string
	RefreshToken string
	Code         string
	RedirectURI  string
	CodeVerifier string
	// Request context for audit and policy.
	IP        string
	UserAgent string
	RequestID string
}

// ParseTokenRequest reads a token request from r's form.
func ParseTokenRequest(r *http.Request, form url.Values) (*TokenRequest, error) {
	for k, v := range form {
		for _, s := range v {
			if len(s) > maxParamLen {
				return nil, web.BadRequest("Parameter %q is too long", k)
			}
		}
	}
	req := &TokenRequest{
		GrantType:    form.Get("grant_type"),
		Username:     form.Get("username"),
		Password:     form.Get("password"),
		RefreshToken: form.Get("refresh_token"),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		IP:           web.ClientIP(r.Context()),
		UserAgent:    truncate(r.UserAgent(), 256),
		RequestID:    web.RequestID(r.Context()),
	}
	if req.GrantType == "" {
		return nil, web.BadRequest("The grant_type parameter is required")
	}
	if _, ok := form["scope"]; ok {
		req.Scopes = strings.Fields(form.Get("scope"))
		if len(req.Scopes) > maxScopes {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidScope, "At most %d scopes may be requested", maxScopes)
		}
	}
	req.Resources = append(form["resource"], form["audience"]...)
	if len(req.Resources) > maxResources {
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "At most %d resources may be requested", maxResources)
	}
	creds, err := ParseClientCredentials(r, form)
	if err != nil {
		return nil, err
	}
	req.Client = creds
	return req, nil
}

// ParseClientCredentials reads client authentication from the Basic
// header or the form. Using both is refused (RFC 6749 §2.3).
func ParseClientCredentials(r *http.Request, form url.Values) (ClientCredentials, error) {
	id, secret, basic := r.BasicAuth()
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	switch {
	case basic && formSecret != "":
		return ClientCredentials{}, web.BadRequest("Use one client authentication method, not both")
	case basic:
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
		uid, err1 := url.QueryUnescape(id)
		usec, err2 := url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return ClientCredentials{}, invalidClient("basic")
		}
		if formID != "" && formID != uid {
			return ClientCredentials{}, web.BadRequest("client_id in the body does not match the Authorization header")
		}
		return ClientCredentials{ID: uid, Secret: usec, Method: wire.AuthClientSecretBasic}, nil
	case formSecret != "":
		return ClientCredentials{ID: formID, Secret: formSecret, Method: wire.AuthClientSecretPost}, nil
	case formID != "":
		return ClientCredentials{ID: formID, Method: wire.AuthNone}, nil
	}
	return ClientCredentials{}, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// invalidClient is the one answer to every client-authentication failure:
// unknown client, wrong secret, disabled client. The same text for all
// three reveals nothing about which client ids exist.
func invalidClient(method string) *web.Error {
	e := web.Errorf(http.StatusUnauthorized, wire.ErrInvalidClient, "Client authentication failed")
	if method == wire.AuthClientSecretBasic || method == "basic" {
		return e.WithHeader("WWW-Authenticate", `Basic realm="permiso", charset="UTF-8"`)
	}
	return e.WithHeader("WWW-Authenticate", `Basic realm="permiso"`)
}
