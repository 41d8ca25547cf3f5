package forwardauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

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
	// Authorization is the client's Authorization header.
	Authorization string
	// Header holds every header the proxy forwarded, for binding checks
	// (DPoP proofs, client certificates). It may be nil.
	Header http.Header
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
	// Challenge is the WWW-Authenticate value of a 401 or an
	// insufficient_scope 403.
	Challenge string
	// Reason is a detail for logs only; never send it to the client.
	Reason string
}

// Allowed reports whether the request may pass.
func (d *Decision) Allowed() bool { return d.Status == http.StatusOK }

// BindingChecker checks a token bound to a key (the cnf claim: a DPoP key
// thumbprint or a certificate thumbprint) against what the proxy forwarded
// of the request (the DPoP proof, the client certificate). It returns nil
// when the binding holds. Without one, bound tokens are refused, because
// letting them through as bearer tokens would defeat the binding.
type BindingChecker func(ctx context.Context, c *wire.Claims, r *Request) error

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
	raw, ok := guard.BearerToken(r.Authorization)
	if !ok {
		return Decision{Status: http.StatusUnauthorized, Rule: rule.Name, Code: "unauthorized",
			Description: "Bearer token required", Challenge: challenge(rule.realm, "", ""), Reason: "no bearer token"}
	}
	c, err := s.guard.VerifyFor(ctx, raw, rule.Audience)
	if err != nil {
		if errors.Is(err, guard.ErrUnavailable) {
			return Decision{Status: http.StatusServiceUnavailable, Rule: rule.Name, Code: wire.ErrTemporarilyUnavailable,
				Description: "Token verification is temporarily unavailable", Reason: err.Error()}
		}
		return invalidToken(rule, err.Error())
	}
	if c.Cnf != nil {
		if s.binding == nil {
			return invalidToken(rule, "token bound to a key (cnf) and no binding checker configured")
		}
		if err := s.binding(ctx, c, r); err != nil {
			return invalidToken(rule, "binding: "+err.Error())
		}
	}
	if err := guard.Check(c, rule.reqs...); err != nil {
		var dn *guard.Denial
		errors.As(err, &dn)
		d := Decision{Status: http.StatusForbidden, Rule: rule.Name, Code: dn.Code, Description: dn.Description,
			Required: dn.Required, Missing: dn.Missing, Reason: dn.Description}
		if dn.Code == wire.ErrInsufficientScope {
			d.Challenge = challenge(rule.realm, dn.Code, strings.Join(dn.Required, " "))
		}
		return d
	}
	return Decision{Status: http.StatusOK, Rule: rule.Name, Claims: c}
}

func invalidToken(rule *compiled, reason string) Decision {
	return Decision{Status: http.StatusUnauthorized, Rule: rule.Name, Code: wire.ErrInvalidToken,
		Description: "The access token is invalid or expired",
		Challenge:   challenge(rule.realm, wire.ErrInvalidToken, ""), Reason: reason}
}

// challenge builds an RFC 6750 §3 Bearer challenge.
func challenge(realm, code, scope string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(realm))
	if code != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(code))
	}
	if scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(scope))
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
