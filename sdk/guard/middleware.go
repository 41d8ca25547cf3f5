package guard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Require returns middleware that lets a request through only with a valid
// access token meeting every requirement, presented as its binding
// demands, and puts its claims and binding in the request context (see
// [ClaimsFrom], [BindingFrom]). A token is accepted as "Authorization:
// Bearer" (RFC 6750 §2.1) unless it is bound to a DPoP key, which must come
// as "Authorization: DPoP" with a DPoP proof of that key for this request
// (RFC 9449 §7); a certificate-bound token needs its client certificate
// (RFC 8705 §3). Failures are answered as RFC 6750 §3 and RFC 9449 §7
// describe, with a Bearer and a DPoP challenge (the DPoP one naming the
// accepted proof algorithms); the challenge of the scheme the request used
// carries the error:
//
//   - no token: 401 with plain challenges;
//   - an invalid token, or one presented without its binding: 401 with
//     error="invalid_token" and no detail;
//   - a bad DPoP proof: 401 with error="invalid_dpop_proof";
//   - a proof without the nonce the guard requires: 401 with
//     error="use_dpop_nonce" and the nonce in the DPoP-Nonce header;
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
			req := Request{
				Authorization: r.Header.Get("Authorization"),
				DPoP:          r.Header.Values(dpop.HeaderProof),
				Method:        r.Method,
				URI:           g.TargetURI(r),
				Certificate:   g.certificateOf(r),
			}
			c, b, err := g.Authorize(r.Context(), &req)
			if err != nil {
				g.refuse(w, r, err)
				return
			}
			_, raw, _ := authorization(req.Authorization)
			a := &auth{claims: c, token: raw, binding: b}
			if b == DPoP && len(req.DPoP) == 1 {
				a.proof = req.DPoP[0]
			}
			if g.txnVerifier != nil {
				if err := g.readTxnToken(r, a); err != nil {
					g.refuseTxn(w, r, err)
					return
				}
			}
			if d := check(c, a.txn, reqs); d != nil {
				g.deny(w, b, d)
				return
			}
			if b == DPoP && g.nonces != nil {
				w.Header().Set(dpop.HeaderNonce, g.nonces.Current())
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
	scheme, _, _ := authorization(r.Header.Get("Authorization"))
	g.challenge(w, http.StatusUnauthorized, scheme, wire.ErrInvalidToken, "", &wire.Error{
		Code: wire.ErrInvalidToken, Description: "The transaction token is invalid or expired",
	})
}

// refuse answers a request whose token or proof failed.
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, err error) {
	scheme, _, _ := authorization(r.Header.Get("Authorization"))
	switch {
	case errors.Is(err, ErrUnavailable):
		g.log.Warn("token verification unavailable", "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, &wire.Error{
			Code: wire.ErrTemporarilyUnavailable, Description: "Token verification is temporarily unavailable",
		})
	case errors.Is(err, ErrNoToken):
		g.challenge(w, http.StatusUnauthorized, "", "", "", &wire.Error{
			Code: "unauthorized", Description: "Bearer token required",
		})
	case errors.Is(err, ErrUseNonce):
		w.Header().Set(dpop.HeaderNonce, g.nonces.Current())
		g.challenge(w, http.StatusUnauthorized, dpop.Scheme, wire.ErrUseDPoPNonce, "", &wire.Error{
			Code: wire.ErrUseDPoPNonce, Description: "The DPoP proof must carry the nonce of the DPoP-Nonce header",
		})
	case errors.Is(err, ErrInvalidProof):
		g.log.Debug("DPoP proof refused", "path", r.URL.Path, "reason", err)
		g.challenge(w, http.StatusUnauthorized, dpop.Scheme, wire.ErrInvalidDPoPProof, "", &wire.Error{
			Code: wire.ErrInvalidDPoPProof, Description: ProofErrorDescription(err),
		})
	default:
		g.log.Debug("access token refused", "path", r.URL.Path, "reason", err)
		g.challenge(w, http.StatusUnauthorized, scheme, wire.ErrInvalidToken, "", &wire.Error{
			Code: wire.ErrInvalidToken, Description: "The access token is invalid or expired",
		})
	}
}

// ProofErrorDescription returns the error_description for a refused DPoP
// proof: what was wrong, with nothing of the proof itself.
func ProofErrorDescription(err error) string {
	switch {
	case errors.Is(err, dpop.ErrMissing):
		return "A DPoP proof is required with a DPoP-bound access token"
	case errors.Is(err, dpop.ErrMultiple):
		return "More than one DPoP proof"
	case errors.Is(err, dpop.ErrMethod):
		return "The DPoP proof is for another HTTP method (htm)"
	case errors.Is(err, dpop.ErrURI):
		return "The DPoP proof is for another URL (htu)"
	case errors.Is(err, dpop.ErrTime):
		return "The DPoP proof is too old or from the future (iat)"
	case errors.Is(err, dpop.ErrTokenHash):
		return "The DPoP proof is not for this access token (ath)"
	case errors.Is(err, dpop.ErrReplayed):
		return "The DPoP proof was already used (jti)"
	}
	return "The DPoP proof is malformed or its signature does not verify"
}

// denialBody is the original Permiso's 403 body.
type denialBody struct {
	Error          string   `json:"error"`
	Description    string   `json:"error_description"`
	RequiredScopes []string `json:"required_scopes,omitempty"`
	MissingScopes  []string `json:"missing_scopes,omitempty"`
}

// deny answers a request whose token does not meet a requirement.
func (g *Guard) deny(w http.ResponseWriter, b Binding, d *Denial) {
	body := denialBody{Error: d.Code, Description: d.Description, RequiredScopes: d.Required, MissingScopes: d.Missing}
	if d.Code != wire.ErrInsufficientScope {
		writeJSON(w, http.StatusForbidden, body)
		return
	}
	body.RequiredScopes = nonNil(d.Required)
	body.MissingScopes = nonNil(d.Missing)
	scheme := wire.TokenTypeBearer
	if b == DPoP {
		scheme = dpop.Scheme
	}
	g.challenge(w, http.StatusForbidden, scheme, wire.ErrInsufficientScope, strings.Join(d.Required, " "), body)
}

// challenge writes a response with a Bearer and a DPoP challenge; the one
// of the scheme the request used (Bearer when unknown) carries the error
// code and scope.
func (g *Guard) challenge(w http.ResponseWriter, status int, scheme, code, scope string, body any) {
	onDPoP := scheme == dpop.Scheme
	bearer := g.challengeFor(wire.TokenTypeBearer, pick(!onDPoP, code), pick(!onDPoP, scope), "")
	proof := g.challengeFor(dpop.Scheme, pick(onDPoP, code), pick(onDPoP, scope), g.algs)
	w.Header()["Www-Authenticate"] = []string{bearer, proof}
	writeJSON(w, status, body)
}

func (g *Guard) challengeFor(scheme, code, scope, algs string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(` realm=`)
	b.WriteString(quote(g.cfg.Realm))
	if code != "" {
		b.WriteString(`, error=`)
		b.WriteString(quote(code))
	}
	if scope != "" {
		b.WriteString(`, scope=`)
		b.WriteString(quote(scope))
	}
	if algs != "" {
		b.WriteString(`, algs=`)
		b.WriteString(quote(algs))
	}
	return b.String()
}

func pick(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
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
