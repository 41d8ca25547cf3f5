package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// DPoPConfig configures DPoP at the token endpoint (RFC 9449). DPoP is
// always accepted; these settings tune it.
type DPoPConfig struct {
	// Algorithms is the allow-list of proof algorithms; empty means every
	// asymmetric algorithm the one verifier supports.
	Algorithms []string
	// MaxAge is how old a proof may be; zero means 60 s.
	MaxAge time.Duration
	// Nonce makes the token endpoint require a nonce it issued in every
	// proof (§8): a proof without one is answered use_dpop_nonce with a
	// nonce in the DPoP-Nonce header.
	Nonce bool
	// NonceSecret keys the nonces (at least 32 bytes); replicas given the
	// same secret accept each other's nonces. Required with Nonce.
	NonceSecret []byte
	// NonceLifetime is how long a nonce is accepted; zero means 5 minutes.
	NonceLifetime time.Duration
}

// dpopReplay records DPoP proof ids in the replicas' shared single-use
// records (namespace "dpop"), so a proof is accepted once across replicas.
type dpopReplay struct{ r *replay.Records }

func (d dpopReplay) Use(ctx context.Context, id string, exp time.Time) error {
	err := d.r.Use(ctx, "dpop", id, exp)
	if errors.Is(err, replay.ErrReplayed) {
		return dpop.ErrReplayed
	}
	return err
}

// newProofVerifier builds the token endpoint's DPoP verifier.
func (p *Provider) newProofVerifier() (*dpop.Verifier, error) {
	var nonces *dpop.Nonces
	if p.cfg.DPoP.Nonce {
		var err error
		if nonces, err = dpop.NewNonces(p.cfg.DPoP.NonceSecret, p.cfg.DPoP.NonceLifetime, p.cfg.Now); err != nil {
			return nil, err
		}
		if p.cfg.DPoP.NonceSecret == nil {
			return nil, errors.New("DPoP nonces need a NonceSecret shared by the replicas")
		}
	}
	return dpop.NewVerifier(dpop.Config{Algorithms: p.cfg.DPoP.Algorithms, MaxAge: p.cfg.DPoP.MaxAge,
		Replay: dpopReplay{p.replay}, Nonces: nonces, Now: p.cfg.Now})
}

// DPoPAlgorithms returns the proof algorithms the token endpoint accepts
// (the dpop_signing_alg_values_supported metadata, RFC 9449 §5.1).
func (p *Provider) DPoPAlgorithms() []string { return p.proofs.Algorithms() }

// DPoPNonce returns the nonce to send in a DPoP-Nonce header, or "" when
// nonces are off.
func (p *Provider) DPoPNonce() string {
	if n := p.proofs.Nonces(); n != nil {
		return n.Current()
	}
	return ""
}

// bind checks the token request's proof of possession and sets req.Bind,
// what the tokens it yields are bound to: the key of its DPoP proof (RFC
// 9449 §5), and the client certificate when the client registered
// tls_client_certificate_bound_access_tokens (RFC 8705 §3). Grants that
// redeem something already bound (a code with dpop_jkt, a bound refresh
// token, a bound subject token) then hold the request to that binding with
// [RequirePossession].
func (p *Provider) bind(ctx context.Context, req *TokenRequest, c *store.Client) error {
	var cnf wire.Confirmation
	switch {
	case len(req.DPoP) > 0:
		jkt, err := p.verifyTokenProof(ctx, req)
		if err != nil {
			return err
		}
		cnf.JKT = jkt
	case c.DPoPBoundAccessTokens:
		return web.Errorf(http.StatusBadRequest, wire.ErrInvalidDPoPProof,
			"This client's tokens are DPoP-bound (dpop_bound_access_tokens): send a DPoP proof")
	}
	if c.TLSClientCertificateBoundAccessTokens {
		if req.Auth == nil || req.Auth.CertThumbprint == "" {
			return web.Errorf(http.StatusBadRequest, wire.ErrInvalidRequest,
				"This client's tokens are bound to its TLS client certificate: call the token endpoint over mutual TLS")
		}
		cnf.X5TS256 = req.Auth.CertThumbprint
	}
	if cnf != (wire.Confirmation{}) {
		req.Bind = &cnf
	}
	return nil
}

// verifyTokenProof checks the DPoP proof of a token request (RFC 9449
// §4.3) for POST to the endpoint the request came to, under the public
// issuer URL (or the mutual-TLS alias), and returns its key's thumbprint.
func (p *Provider) verifyTokenProof(ctx context.Context, req *TokenRequest) (string, error) {
	dr := dpop.Request{Proofs: req.DPoP, Method: http.MethodPost, URI: p.cfg.Issuer + req.Path}
	proof, err := p.proofs.Verify(ctx, dr)
	if errors.Is(err, dpop.ErrURI) && p.cfg.MTLSBaseURL != "" {
		dr.URI = p.cfg.MTLSBaseURL + req.Path
		proof, err = p.proofs.Verify(ctx, dr)
	}
	switch {
	case err == nil:
		return proof.JKT, nil
	case errors.Is(err, dpop.ErrUseNonce):
		return "", web.Errorf(http.StatusBadRequest, wire.ErrUseDPoPNonce,
			"Authorization server requires nonce in DPoP proof").WithHeader(dpop.HeaderNonce, p.DPoPNonce())
	case errors.Is(err, dpop.ErrInvalidProof):
		p.cfg.Logger.DebugContext(ctx, "DPoP proof refused", "err", err)
		return "", web.Errorf(http.StatusBadRequest, wire.ErrInvalidDPoPProof, "%s", proofDescription(err))
	default:
		return "", web.Unavailable(fmt.Errorf("DPoP proof: %w", err))
	}
}

// proofDescription says what was wrong with a refused proof, and nothing of
// the proof itself.
func proofDescription(err error) string {
	switch {
	case errors.Is(err, dpop.ErrMultiple):
		return "More than one DPoP proof"
	case errors.Is(err, dpop.ErrMethod):
		return "The DPoP proof is for another HTTP method (htm)"
	case errors.Is(err, dpop.ErrURI):
		return "The DPoP proof is for another URL (htu); use the token endpoint of the issuer's metadata"
	case errors.Is(err, dpop.ErrTime):
		return "The DPoP proof is too old or from the future (iat)"
	case errors.Is(err, dpop.ErrReplayed):
		return "The DPoP proof was already used (jti)"
	}
	return "The DPoP proof is malformed or its signature does not verify"
}

// RequirePossession holds a token request that redeems something bound to
// a key (cnf: a refresh token's family, a code's dpop_jkt, a bound subject
// token) to that binding, so a bound token can never be turned into an
// unbound one: the request must carry a DPoP proof of cnf.JKT and come with
// the certificate of cnf.X5TS256. It returns what the new token must be
// bound to: cnf itself, plus the request's own DPoP key when cnf names none.
// The dispatcher has verified the request's proof (req.Bind); token
// exchange calls this for a subject token with cnf.
func RequirePossession(req *TokenRequest, cnf *wire.Confirmation) (*wire.Confirmation, error) {
	if cnf == nil || *cnf == (wire.Confirmation{}) {
		return req.Bind, nil
	}
	out := *cnf
	var have wire.Confirmation
	if req.Bind != nil {
		have = *req.Bind
	}
	if cnf.JKT != "" && have.JKT != cnf.JKT {
		if have.JKT == "" {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidDPoPProof,
				"The grant is bound to a DPoP key: send a DPoP proof signed with that key")
		}
		return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidDPoPProof,
			"The DPoP proof is signed with another key than the one the grant is bound to")
	}
	if out.JKT == "" {
		out.JKT = have.JKT
	}
	if cnf.X5TS256 != "" {
		cert := ""
		if req.Auth != nil {
			cert = req.Auth.CertThumbprint
		}
		if subtle.ConstantTimeCompare([]byte(cert), []byte(cnf.X5TS256)) != 1 {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidGrant,
				"The grant is bound to a TLS client certificate: present that certificate")
		}
	}
	if out.X5TS256 == "" && have.X5TS256 != "" {
		out.X5TS256 = have.X5TS256
	}
	return &out, nil
}

// ErrBinding is joined with ErrInactive when a bound token comes without
// its binding: as a bearer token, or with another certificate.
var ErrBinding = errors.New("token presented without proof of its key")

// VerifyRequest verifies the access token of a request to Permiso's own
// API ([Provider.VerifyAccess]) and the proof of possession its binding
// requires, as a resource server must (RFC 9449 §7, RFC 8705 §3): a
// DPoP-bound token only as "Authorization: DPoP" with a proof for this
// request (its htu under the issuer URL), a certificate-bound token only
// with its client certificate. A token without binding comes as "Bearer".
// Errors: ErrInactive (joined with the reason) for an unusable token or a
// missing binding; a *web.Error (401 invalid_dpop_proof or use_dpop_nonce,
// with a DPoP challenge) for a bad proof; anything else means the store
// could not answer.
func (p *Provider) VerifyRequest(r *http.Request, realm string) (*wire.Claims, error) {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	isDPoP := strings.EqualFold(scheme, dpop.Scheme)
	if (!isDPoP && !strings.EqualFold(scheme, wire.TokenTypeBearer)) || raw == "" || len(raw) > tokens.MaxTokenBytes {
		return nil, ErrInactive
	}
	c, err := p.VerifyAccess(r.Context(), raw)
	if err != nil {
		return nil, err
	}
	var jkt, x5t string
	if c.Cnf != nil {
		jkt, x5t = c.Cnf.JKT, c.Cnf.X5TS256
	}
	switch {
	case isDPoP != (jkt != ""):
		// RFC 9449 §7.2: a DPoP-bound token is never a bearer token, and
		// the DPoP scheme is for DPoP-bound tokens only.
		return nil, errors.Join(ErrInactive, ErrBinding)
	case isDPoP:
		_, err := p.proofs.Verify(r.Context(), dpop.Request{Proofs: r.Header.Values(dpop.HeaderProof), Method: r.Method,
			URI: p.cfg.Issuer + r.URL.EscapedPath(), AccessToken: raw, JKT: jkt})
		switch {
		case errors.Is(err, dpop.ErrKeyMismatch):
			return nil, errors.Join(ErrInactive, ErrBinding)
		case errors.Is(err, dpop.ErrUseNonce):
			return nil, web.Errorf(http.StatusUnauthorized, wire.ErrUseDPoPNonce, "Resource server requires nonce in DPoP proof").
				WithHeader("WWW-Authenticate", fmt.Sprintf(`DPoP realm=%q, error="use_dpop_nonce"`, realm)).
				WithHeader(dpop.HeaderNonce, p.DPoPNonce())
		case errors.Is(err, dpop.ErrInvalidProof):
			return nil, web.Errorf(http.StatusUnauthorized, wire.ErrInvalidDPoPProof, "%s", proofDescription(err)).
				WithHeader("WWW-Authenticate", fmt.Sprintf(`DPoP realm=%q, error="invalid_dpop_proof", algs=%q`, realm, strings.Join(p.DPoPAlgorithms(), " ")))
		case err != nil:
			return nil, err
		}
	}
	if x5t != "" {
		cert := mtls.FromContext(r.Context())
		if cert == nil || subtle.ConstantTimeCompare([]byte(cert.Thumbprint()), []byte(x5t)) != 1 {
			return nil, errors.Join(ErrInactive, ErrBinding)
		}
	}
	return c, nil
}
