package forwardauth

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Paths of the decision endpoints [Service.Mount] serves.
const (
	// PathForwardAuth is the endpoint for nginx auth_request, Caddy
	// forward_auth and Traefik forwardAuth: the client's request is
	// described by X-Forwarded-Method, X-Forwarded-Host and X-Forwarded-Uri
	// (X-Forwarded-Proto is logged), which the proxy must set, never pass
	// through.
	PathForwardAuth = "/forward-auth"
	// PathEnvoy is the path_prefix for Envoy's ext_authz HTTP service: the
	// check request carries the client's method, :authority and path after
	// the prefix.
	PathEnvoy = "/forward-auth/envoy"
)

// Headers of a refusal that proxies which do not relay the decision's body
// (nginx) use to build their own.
const (
	HeaderError            = "X-Auth-Error"
	HeaderErrorDescription = "X-Auth-Error-Description"
)

// Mount registers the decision endpoints on mux.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.HandleFunc(PathForwardAuth, s.serveForwarded)
	mux.HandleFunc(PathEnvoy+"/", s.serveEnvoy)
}

// serveForwarded decides a request described by X-Forwarded-* headers.
func (s *Service) serveForwarded(w http.ResponseWriter, r *http.Request) {
	req := Request{
		Method:        r.Header.Get("X-Forwarded-Method"),
		Host:          r.Header.Get("X-Forwarded-Host"),
		URI:           r.Header.Get("X-Forwarded-Uri"),
		Scheme:        forwardedProto(r.Header),
		Port:          forwardedPort(r.Header),
		Authorization: r.Header.Get("Authorization"),
		Header:        r.Header,
		RemoteAddr:    r.RemoteAddr,
	}
	if req.Method == "" || req.URI == "" || len(r.Header.Values("X-Forwarded-Uri")) > 1 ||
		len(r.Header.Values("X-Forwarded-Method")) > 1 || len(r.Header.Values("X-Forwarded-Host")) > 1 {
		s.log.Warn("forward-auth request without one X-Forwarded-Method and X-Forwarded-Uri; check the proxy configuration",
			"remote", r.RemoteAddr)
		s.write(w, &req, &Decision{Status: http.StatusForbidden, Code: wire.ErrInvalidRequest,
			Description: "The proxy did not describe the request (X-Forwarded-Method, X-Forwarded-Uri)"})
		return
	}
	d := s.Decide(r.Context(), &req)
	s.write(w, &req, &d)
}

// serveEnvoy decides the request Envoy's ext_authz HTTP filter forwards:
// its own method and authority, and its path under PathEnvoy.
func (s *Service) serveEnvoy(w http.ResponseWriter, r *http.Request) {
	uri := strings.TrimPrefix(r.RequestURI, PathEnvoy)
	req := Request{Method: r.Method, Host: r.Host, URI: uri, Scheme: forwardedProto(r.Header),
		Authorization: r.Header.Get("Authorization"), Header: r.Header, RemoteAddr: r.RemoteAddr}
	d := s.Decide(r.Context(), &req)
	s.write(w, &req, &d)
}

// forwardedProto returns the client's scheme from one X-Forwarded-Proto of
// http or https; "" (https) otherwise.
func forwardedProto(h http.Header) string {
	if v := h.Values("X-Forwarded-Proto"); len(v) == 1 && (v[0] == "http" || v[0] == "https") {
		return v[0]
	}
	return ""
}

// forwardedPort returns one numeric X-Forwarded-Port, or "".
func forwardedPort(h http.Header) string {
	v := h.Values("X-Forwarded-Port")
	if len(v) != 1 || v[0] == "" || len(v[0]) > 5 || strings.Trim(v[0], "0123456789") != "" {
		return ""
	}
	return v[0]
}

// refusal is the JSON body of a refused request, in the original Permiso's
// shape.
type refusal struct {
	Error          string   `json:"error"`
	Description    string   `json:"error_description"`
	RequiredScopes []string `json:"required_scopes,omitempty"`
	MissingScopes  []string `json:"missing_scopes,omitempty"`
}

func (s *Service) write(w http.ResponseWriter, req *Request, d *Decision) {
	h := w.Header()
	h["Cache-Control"] = noStore
	if d.Allowed() {
		// Every identity header is set, empty when it does not apply (public
		// rules, no actor), so a proxy that copies them overwrites whatever
		// the client sent under those names.
		t := s.table.Load()
		for _, n := range t.headerNames {
			h[n] = empty
		}
		for _, kv := range d.Identity(t.headers) {
			h[kv[0]] = []string{kv[1]}
		}
		if d.DPoPNonce != "" {
			h.Set(dpop.HeaderNonce, d.DPoPNonce)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	s.logDecision(req, d)
	if d.Challenge != "" {
		h.Set("WWW-Authenticate", d.Challenge)
	}
	if d.DPoPNonce != "" {
		h.Set(dpop.HeaderNonce, d.DPoPNonce)
	}
	h.Set(HeaderError, d.Code)
	h.Set(HeaderErrorDescription, d.Description)
	if d.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(d.Status)
	w.Write(d.JSON())
}

// JSON returns the body of a refusal: error, error_description and, for
// insufficient_scope, required_scopes and missing_scopes.
func (d *Decision) JSON() []byte {
	b, _ := json.Marshal(refusal{Error: d.Code, Description: d.Description,
		RequiredScopes: d.Required, MissingScopes: d.Missing})
	return append(b, '\n')
}

var (
	noStore = []string{"no-store"}
	empty   = []string{""}
)
