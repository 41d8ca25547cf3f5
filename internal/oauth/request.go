package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Limits on what a client may send.
const (
	maxParamLen = 2048
	// maxAssertionLen bounds client_assertion, subject_token and
	// actor_token: a Kubernetes service account token with its pod claims
	// is about 1.5 KiB, and no verifier accepts more than 8 KiB.
	maxAssertionLen = 8 << 10
	maxScopes       = 64
	maxResources    = 8
)

// ClientCredentials are the client authentication of a request.
type ClientCredentials struct {
	ID     string
	Secret string
	// Method is how the credentials came: client_secret_basic,
	// client_secret_post, private_key_jwt (any client assertion),
	// tls_client_auth (a certificate alone) or none.
	Method string
	// AssertionType and Assertion are client_assertion_type and
	// client_assertion (RFC 7521 §4.2).
	AssertionType string
	Assertion     string
	// Cert is the certificate the request came with over mutual TLS
	// (directly or through a trusted proxy), or nil.
	Cert *mtls.Presented
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
	// Token exchange (RFC 8693 §2.1) and transaction tokens
	// (draft-ietf-oauth-transaction-tokens-11 §11.1).
	SubjectToken     string
	SubjectTokenType string
	// SubjectTokenDPoP is the DPoP proof a DPoP-bound subject token was
	// presented with to the exchanging client (Permiso's
	// subject_token_dpop parameter).
	SubjectTokenDPoP   string
	ActorToken         string
	ActorTokenType     string
	RequestedTokenType string
	RequestContext     string // a JSON object, unparsed
	RequestDetails     string // a JSON object, unparsed
	// Auth is the client's authentication, set by the dispatcher before a
	// grant runs (its CertThumbprint is what certificate-bound tokens carry).
	Auth *ClientAuth
	// DPoP holds the values of the request's DPoP headers (RFC 9449 §5)
	// and Path the path it came to, under the issuer URL: the htu its
	// proof must name.
	DPoP []string
	Path string
	// Bind is what the tokens issued for the request are bound to, set by
	// the dispatcher (see [RequirePossession]): the key of its DPoP proof,
	// the certificate of a client that asked for certificate-bound tokens.
	// nil: unbound.
	Bind *wire.Confirmation
	// Request context for audit and policy.
	IP        string
	UserAgent string
	RequestID string
}

// ParseTokenRequest reads a token request from r's form.
func ParseTokenRequest(r *http.Request, form url.Values) (*TokenRequest, error) {
	for k, v := range form {
		limit := maxParamLen
		switch k {
		case "client_assertion", "subject_token", "actor_token", "subject_token_dpop":
			limit = maxAssertionLen
		}
		for _, s := range v {
			if len(s) > limit {
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

		SubjectToken:       form.Get("subject_token"),
		SubjectTokenType:   form.Get("subject_token_type"),
		SubjectTokenDPoP:   form.Get("subject_token_dpop"),
		ActorToken:         form.Get("actor_token"),
		ActorTokenType:     form.Get("actor_token_type"),
		RequestedTokenType: form.Get("requested_token_type"),
		RequestContext:     form.Get("request_context"),
		RequestDetails:     form.Get("request_details"),

		IP:        web.ClientIP(r.Context()),
		UserAgent: truncate(r.UserAgent(), 256),
		RequestID: web.RequestID(r.Context()),
		DPoP:      r.Header.Values(dpop.HeaderProof),
		Path:      r.URL.EscapedPath(),
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
// header, the form (a secret or a client assertion) and the request's
// client certificate. Using two of Basic, client_secret and
// client_assertion is refused (RFC 6749 §2.3).
func ParseClientCredentials(r *http.Request, form url.Values) (ClientCredentials, error) {
	id, secret, basic := r.BasicAuth()
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	cert := mtls.FromContext(r.Context())
	_, hasAssertion := form["client_assertion"]
	_, hasAssertionType := form["client_assertion_type"]
	switch {
	case (basic || formSecret != "") && (hasAssertion || hasAssertionType):
		return ClientCredentials{}, web.BadRequest("Use one client authentication method, not both")
	case hasAssertion || hasAssertionType:
		return parseAssertion(form, cert)
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
		return ClientCredentials{ID: uid, Secret: usec, Method: wire.AuthClientSecretBasic, Cert: cert}, nil
	case formSecret != "":
		return ClientCredentials{ID: formID, Secret: formSecret, Method: wire.AuthClientSecretPost, Cert: cert}, nil
	case formID != "" && cert != nil:
		return ClientCredentials{ID: formID, Method: wire.AuthTLSClientAuth, Cert: cert}, nil
	case formID != "":
		return ClientCredentials{ID: formID, Method: wire.AuthNone}, nil
	}
	return ClientCredentials{Cert: cert}, nil
}

// parseAssertion reads client_assertion_type and client_assertion (RFC
// 7521 §4.2): both present, each once, of a type Permiso knows.
func parseAssertion(form url.Values, cert *mtls.Presented) (ClientCredentials, error) {
	types, assertions := form["client_assertion_type"], form["client_assertion"]
	c := ClientCredentials{ID: form.Get("client_id"), Method: wire.AuthPrivateKeyJWT, Cert: cert}
	if len(types) != 1 || len(assertions) != 1 || assertions[0] == "" || len(assertions[0]) > maxAssertionLen {
		return c, invalidClientBecause(c.Method, "Send client_assertion_type and client_assertion once each")
	}
	switch types[0] {
	case wire.AssertionTypeJWTBearer, wire.AssertionTypeJWTSPIFFE:
	default:
		return c, invalidClientBecause(c.Method, fmt.Sprintf("client_assertion_type must be %s or %s",
			wire.AssertionTypeJWTBearer, wire.AssertionTypeJWTSPIFFE))
	}
	if len(form["client_id"]) > 1 {
		return c, web.BadRequest("Send client_id once")
	}
	c.AssertionType, c.Assertion = types[0], assertions[0]
	return c, nil
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
	return invalidClientBecause(method, "Client authentication failed")
}

// invalidClientBecause is invalid_client with a description. Only text
// that tells the caller about what it sent itself (its assertion's form,
// audience or lifetime) belongs here; anything that depends on a client's
// registration reads "Client authentication failed", and the reason goes
// to the audit log.
func invalidClientBecause(method, description string) *web.Error {
	e := web.Errorf(http.StatusUnauthorized, wire.ErrInvalidClient, "%s", description)
	if method == wire.AuthClientSecretBasic || method == "basic" {
		return e.WithHeader("WWW-Authenticate", `Basic realm="permiso", charset="UTF-8"`)
	}
	return e.WithHeader("WWW-Authenticate", `Basic realm="permiso"`)
}
