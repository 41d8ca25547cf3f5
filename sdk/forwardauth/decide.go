package forwardauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Table is a compiled rules file. It is immutable and safe for concurrent
// use; a reload replaces the whole table.
type Table struct {
	mux       *http.ServeMux
	normalize bool
	headers   Headers
	// headerNames are the identity headers in use.
	headerNames []string
	rules       []*compiled
}

// Headers returns the identity header names of the table.
func (t *Table) Headers() Headers { return t.headers }

// compiled is a validated rule ready to decide.
type compiled struct {
	Rule
	where string
	reqs  []guard.Requirement
	realm string
}

// ServeHTTP makes a rule registrable in the ServeMux that matches requests;
// the mux only ever looks rules up, it never serves them.
func (*compiled) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusInternalServerError)
}

// match returns the rule for a request to method, host and decoded path,
// or nil when none applies.
func (t *Table) match(method, host, path string) *compiled {
	r := http.Request{Method: method, Host: strings.ToLower(host), URL: &url.URL{Path: path}}
	h, pattern := t.mux.Handler(&r)
	if pattern == "" {
		return nil
	}
	c, _ := h.(*compiled) // a redirect handler (missing trailing slash) is no rule
	return c
}

// Request is what a proxy tells the decision about the request it holds.
type Request struct {
	// Method, Host (with or without port) and URI (the request-target: path
	// and query, as received) of the client's request.
	Method string
	Host   string
	URI    string
	// Scheme is the scheme the client used (X-Forwarded-Proto); empty
	// means https. With Host and the path of URI it makes the target URI
	// a DPoP proof names (htu).
	Scheme string
	// Port is the port the client connected to (X-Forwarded-Port), used
	// for the target URI when Host names none. A Host without a port
	// already means the scheme's default, so a proxy should send the
	// client's Host as it came (nginx: $http_host) rather than a Port.
	Port string
	// Authorization is the client's Authorization header: "Bearer <token>"
	// or "DPoP <token>".
	Authorization string
	// Header holds every header the proxy forwarded, for binding checks:
	// the client's DPoP proof (the DPoP header; configure the proxy to
	// pass it), a client certificate in the guard's
	// ClientCertificate.Header. It may be nil.
	Header http.Header
	// RemoteAddr is the address of the proxy that asked (the direct
	// peer), which must be one of the guard's ClientCertificate
	// TrustedProxies for a forwarded certificate header to be believed.
	RemoteAddr string
	// Certificate is the client's TLS certificate when the proxy hands it
	// over on a trusted channel (Envoy's ext_authz check request); nil
	// otherwise.
	Certificate *x509.Certificate
}

// Decision is the outcome of [Service.Decide].
type Decision struct {
	// Status is 200 (allowed), 401, 403 or 503.
	Status int
	// Rule names the rule that decided, "" when none matched.
	Rule string
	// Claims are the verified token's claims on an allowed request with a
	// token; nil on public rules. They must not be modified.
	Claims *wire.Claims
	// Code and Description explain a refusal (RFC 6750 §3.1 error codes);
	// Required and Missing are the scopes of an insufficient_scope refusal.
	Code        string
	Description string
	Required    []string
	Missing     []string
	// Binding says how an allowed request proved it holds its token:
	// guard.Bearer, guard.DPoP or guard.MTLS ("" on public rules).
	Binding guard.Binding
	// Challenge is the WWW-Authenticate value of a 401 or an
	// insufficient_scope 403: a Bearer and a DPoP challenge (RFC 6750 §3,
	// RFC 9449 §7.1).
	Challenge string
	// DPoPNonce is the nonce to send in a DPoP-Nonce header: on a
	// use_dpop_nonce refusal, and on allowed DPoP requests when the guard
	// requires nonces (RFC 9449 §9).
	DPoPNonce string
	// Reason is a detail for logs only; never send it to the client.
	Reason string
}

// Allowed reports whether the request may pass.
func (d *Decision) Allowed() bool { return d.Status == http.StatusOK }

// Decide decides whether r may pass. It never makes a network call for a
// token seen before: keys, revocations and verified tokens are in memory.
func (s *Service) Decide(ctx context.Context, r *Request) Decision {
	t := s.table.Load()
	path, err := CleanPath(r.URI, t.normalize)
	if err != nil {
		return Decision{Status: http.StatusForbidden, Code: wire.ErrInvalidRequest, Description: err.Error(), Reason: err.Error()}
	}
	if strings.Contains(r.Host, ",") {
		return Decision{Status: http.StatusForbidden, Code: wire.ErrInvalidRequest,
			Description: "The forwarded host is ambiguous", Reason: "X-Forwarded-Host holds a list"}
	}
	rule := t.match(r.Method, r.Host, path)
	if rule == nil {
		return Decision{Status: http.StatusForbidden, Code: wire.ErrAccessDenied,
			Description: "No rule allows this request", Reason: "no matching rule"}
	}
	if rule.Public {
		return Decision{Status: http.StatusOK, Rule: rule.Name}
	}
	gr := guard.Request{Authorization: r.Authorization, Method: r.Method, URI: targetURI(r), Audience: rule.Audience,
		Certificate: func() *x509.Certificate { return s.certificate(r) }}
	if r.Header != nil {
		gr.DPoP = r.Header.Values(dpop.HeaderProof)
	}
	c, b, err := s.guard.Authorize(ctx, &gr)
	if err != nil {
		return s.refusal(rule, r, err)
	}
	if err := guard.Check(c, rule.reqs...); err != nil {
		var dn *guard.Denial
		errors.As(err, &dn)
		d := Decision{Status: http.StatusForbidden, Rule: rule.Name, Code: dn.Code, Description: dn.Description,
			Required: dn.Required, Missing: dn.Missing, Reason: dn.Description}
		if dn.Code == wire.ErrInsufficientScope {
			scheme := wire.TokenTypeBearer
			if b == guard.DPoP {
				scheme = dpop.Scheme
			}
			d.Challenge = s.challenge(rule.realm, scheme, dn.Code, strings.Join(dn.Required, " "))
		}
		return d
	}
	d := Decision{Status: http.StatusOK, Rule: rule.Name, Claims: c, Binding: b}
	if b == guard.DPoP {
		d.DPoPNonce = s.guard.DPoPNonce()
	}
	return d
}

// refusal is the decision for a request whose token or proof failed.
func (s *Service) refusal(rule *compiled, r *Request, err error) Decision {
	scheme, _, _ := strings.Cut(r.Authorization, " ")
	if strings.EqualFold(scheme, dpop.Scheme) {
		scheme = dpop.Scheme
	}
	d := Decision{Status: http.StatusUnauthorized, Rule: rule.Name, Reason: err.Error()}
	switch {
	case errors.Is(err, guard.ErrNoToken):
		d.Code, d.Description = "unauthorized", "Bearer token required"
		d.Challenge = s.challenge(rule.realm, "", "", "")
	case errors.Is(err, guard.ErrUnavailable):
		return Decision{Status: http.StatusServiceUnavailable, Rule: rule.Name, Code: wire.ErrTemporarilyUnavailable,
			Description: "Token verification is temporarily unavailable", Reason: err.Error()}
	case errors.Is(err, guard.ErrUseNonce):
		d.Code, d.Description = wire.ErrUseDPoPNonce, "The DPoP proof must carry the nonce of the DPoP-Nonce header"
		d.Challenge, d.DPoPNonce = s.challenge(rule.realm, dpop.Scheme, d.Code, ""), s.guard.DPoPNonce()
	case errors.Is(err, guard.ErrInvalidProof):
		d.Code, d.Description = wire.ErrInvalidDPoPProof, guard.ProofErrorDescription(err)
		d.Challenge = s.challenge(rule.realm, dpop.Scheme, d.Code, "")
	default:
		d.Code, d.Description = wire.ErrInvalidToken, "The access token is invalid or expired"
		d.Challenge = s.challenge(rule.realm, scheme, d.Code, "")
	}
	return d
}

// targetURI is the URI the client called, as its DPoP proof names it
// (htu): scheme, host and the path of the request-target as received.
func targetURI(r *Request) string {
	scheme := r.Scheme
	if scheme == "" {
		scheme = "https"
	}
	path, _, _ := strings.Cut(r.URI, "?")
	host := r.Host
	if _, _, err := net.SplitHostPort(host); err != nil && r.Port != "" {
		// A default port is dropped again when htu is compared.
		host = net.JoinHostPort(strings.Trim(host, "[]"), r.Port)
	}
	return scheme + "://" + host + path
}

// certificate returns the client certificate of r: the one the proxy
// handed over, else one forwarded in the guard's certificate header by a
// trusted proxy.
func (s *Service) certificate(r *Request) *x509.Certificate {
	if r.Certificate != nil {
		return r.Certificate
	}
	h := s.guard.ClientCertificateHeader()
	if h == "" || r.Header == nil {
		return nil
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil
	}
	return s.guard.ForwardedCertificate(r.Header.Values(h), peer.Addr())
}

// challenge builds a Bearer and a DPoP challenge (RFC 6750 §3, RFC 9449
// §7.1) in one WWW-Authenticate value; the one of scheme carries the error
// code and scope.
func (s *Service) challenge(realm, scheme, code, scope string) string {
	onDPoP := scheme == dpop.Scheme
	var b strings.Builder
	for _, sch := range []string{wire.TokenTypeBearer, dpop.Scheme} {
		if sch == dpop.Scheme {
			b.WriteString(", ")
		}
		b.WriteString(sch)
		b.WriteString(` realm=`)
		b.WriteString(quote(realm))
		if mine := (sch == dpop.Scheme) == onDPoP; mine && code != "" {
			b.WriteString(`, error=`)
			b.WriteString(quote(code))
			if scope != "" {
				b.WriteString(`, scope=`)
				b.WriteString(quote(scope))
			}
		}
		if sch == dpop.Scheme {
			b.WriteString(`, algs=`)
			b.WriteString(quote(strings.Join(s.guard.DPoPAlgorithms(), " ")))
		}
	}
	return b.String()
}

var quoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

func quote(s string) string { return `"` + quoter.Replace(s) + `"` }

// TokenKind returns "service" for a client's own token, "delegated" for a
// token with an actor (act), and "user" for a user's token.
func TokenKind(c *wire.Claims) string {
	switch {
	case c.Act != nil:
		return "delegated"
	case c.Type == "service", c.Type == "" && c.Subject == c.ClientID:
		return "service"
	}
	return "user"
}

// Identity returns the identity headers of an allowed decision, named by
// h; none for a public rule.
func (d *Decision) Identity(h Headers) [][2]string {
	c := d.Claims
	if c == nil {
		return nil
	}
	out := make([][2]string, 0, 7)
	add := func(name, v string) {
		if name != "" && v != "" {
			out = append(out, [2]string{name, v})
		}
	}
	add(h.Subject, c.Subject)
	add(h.Client, c.ClientID)
	add(h.Scopes, c.Scope)
	add(h.TokenKind, TokenKind(c))
	if c.Act != nil {
		actor := c.Act.Subject
		if actor == "" {
			actor = c.Act.ClientID
		}
		add(h.Actor, actor)
	}
	add(h.Username, c.Username)
	add(h.TokenID, c.ID)
	return out
}

func (s *Service) logDecision(r *Request, d *Decision) {
	if d.Allowed() || !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.log.Debug("forward-auth refused", "status", d.Status, "rule", d.Rule, "method", r.Method,
		"host", r.Host, "uri", truncate(r.URI, 256), "reason", d.Reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}
