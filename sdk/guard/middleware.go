package guard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Require returns middleware that lets a request through only with a valid
// bearer token (RFC 6750 §2.1, Authorization header) meeting every
// requirement, and puts its claims in the request context (see
// [ClaimsFrom]). It answers failures per RFC 6750 §3:
//
//   - no token: 401 with a plain `Bearer realm="..."` challenge;
//   - an invalid token: 401 with error="invalid_token" and no detail;
//   - a scope requirement not met: 403 with error="insufficient_scope",
//     the required scopes in the challenge and a JSON body with error,
//     error_description, required_scopes and missing_scopes;
//   - [Trusted] not met: 403 "Trusted client required"; likewise 403
//     forbidden for [ActingForUser], [NoImpersonation], [ActedBy] and
//     [WithTxnToken];
//   - an invalid transaction token (Config.TrustDomain set and a Txn-Token
//     header present, or several of them): 401 invalid_token;
//   - the issuer unreachable while the token is new: 503 with Retry-After.
func (g *Guard) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				g.challenge(w, http.StatusUnauthorized, "", "", &wire.Error{
					Code: "unauthorized", Description: "Bearer token required",
				})
				return
			}
			c, err := g.Verify(r.Context(), raw)
			if err != nil {
				g.refuse(w, r, err)
				return
			}
			a := &auth{claims: c, token: raw}
			if g.txnVerifier != nil {
				if err := g.readTxnToken(r, a); err != nil {
					g.refuseTxn(w, r, err)
					return
				}
			}
			if d := check(c, a.txn, reqs); d != nil {
				g.deny(w, d)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey{}, a)))
		})
	}
}

// readTxnToken verifies the request's Txn-Token header, if any, into a.
func (g *Guard) readTxnToken(r *http.Request, a *auth) error {
	vals := r.Header.Values(wire.HeaderTxnToken)
	switch len(vals) {
	case 0:
		return nil
	case 1:
	default:
		return invalid("%d transaction tokens; exactly one is allowed", len(vals))
	}
	txn, err := g.VerifyTxnToken(r.Context(), strings.TrimSpace(vals[0]))
	if err != nil {
		return err
	}
	a.txn, a.rawTxn = txn, strings.TrimSpace(vals[0])
	return nil
}

// refuseTxn answers a request whose transaction token failed verification.
func (g *Guard) refuseTxn(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		g.refuse(w, r, err)
		return
	}
	g.log.Debug("transaction token refused", "path", r.URL.Path, "reason", err)
	g.challenge(w, http.StatusUnauthorized, wire.ErrInvalidToken, "", &wire.Error{
		Code: wire.ErrInvalidToken, Description: "The transaction token is invalid or expired",
	})
}

// refuse answers a request whose token failed verification.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnavailable) {
		g.log.Warn("token verification unavailable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, &wire.Error{
			Code: wire.ErrTemporarilyUnavailable, Description: "Token verification is temporarily unavailable",
		})
		return
	}
	g.log.Debug("bearer token refused", "path", r.URL.Path, "reason", err)
	g.challenge(w, http.StatusUnauthorized, wire.ErrInvalidToken, "", &wire.Error{
		Code: wire.ErrInvalidToken, Description: "The access token is invalid or expired",
	})
}

// denialBody is the original Permiso's 403 body.
type denialBody struct {
	Error          string   `json:"error"`
	Description    string   `json:"error_description"`
	RequiredScopes []string `json:"required_scopes,omitempty"`
	MissingScopes  []string `json:"missing_scopes,omitempty"`
}

// deny answers a request whose token does not meet a requirement.
func (g *Guard) deny(w http.ResponseWriter, d *Denial) {
	body := denialBody{Error: d.Code, Description: d.Description, RequiredScopes: d.Required, MissingScopes: d.Missing}
	if d.Code != wire.ErrInsufficientScope {
		writeJSON(w, http.StatusForbidden, body)
		return
	}
	body.RequiredScopes = nonNil(d.Required)
	body.MissingScopes = nonNil(d.Missing)
	g.challenge(w, http.StatusForbidden, wire.ErrInsufficientScope, strings.Join(d.Required, " "), body)
}

// challenge writes a response with a Bearer WWW-Authenticate challenge.
func (g *Guard) challenge(w http.ResponseWriter, status int, code, scope string, body any) {
	var b strings.Builder
	b.WriteString(`Bearer realm=`)
	b.WriteString(quote(g.cfg.Realm))
	if code != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(code))
	}
	if scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(scope))
	}
	w.Header().Set("WWW-Authenticate", b.String())
	writeJSON(w, status, body)
}

// quote returns s as an RFC 9110 quoted-string.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
