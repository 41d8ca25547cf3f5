package guard

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Binding says how a request proved it holds its access token.
type Binding string

const (
	// Bearer: the token alone (RFC 6750); whoever holds a copy may use it.
	Bearer Binding = "bearer"
	// DPoP: a DPoP proof signed with the key of the token's cnf.jkt (RFC
	// 9449), made for this request.
	DPoP Binding = "dpop"
	// MTLS: the TLS client certificate of the token's cnf.x5t#S256 (RFC
	// 8705 §3), on this connection or forwarded by a trusted proxy.
	MTLS Binding = "mtls"
)

// Request is what a call presents, whatever its transport: [Guard.Require]
// builds one from an HTTP request, grpcguard from a gRPC call's metadata
// and peer, sdk/forwardauth from a gateway's description of a request.
type Request struct {
	// Authorization is the Authorization header: "Bearer <token>" or
	// "DPoP <token>".
	Authorization string
	// DPoP holds every DPoP header value (the proofs) of the call.
	DPoP []string
	// Method and URI are the call's method and target URI as its client
	// addressed it, which a DPoP proof's htm and htu must name (see
	// [Guard.TargetURI]).
	Method string
	URI    string
	// Certificate returns the client certificate of the call (nil when
	// there is none or it cannot be believed). It is called only for a
	// certificate-bound token; nil means none.
	Certificate func() *x509.Certificate
	// Audience, when not empty, replaces Config.Audience (see
	// [Guard.VerifyFor]).
	Audience string
}

// Authorize checks the access token of req and the proof of possession its
// binding requires, and returns the token's claims and how the request
// proved it holds the token. Errors wrap [ErrNoToken], [ErrInvalidToken],
// [ErrInvalidProof], [ErrUseNonce] or [ErrUnavailable].
func (g *Guard) Authorize(ctx context.Context, req *Request) (*wire.Claims, Binding, error) {
	scheme, raw, ok := authorization(req.Authorization)
	if !ok {
		return nil, "", ErrNoToken
	}
	aud := req.Audience
	if aud == "" {
		aud = g.cfg.Audience
	}
	c, err := g.VerifyFor(ctx, raw, aud)
	if err != nil {
		return nil, "", err
	}
	b, err := g.checkBinding(ctx, req, scheme, raw, c)
	if err != nil {
		return nil, "", err
	}
	return c, b, nil
}

// VerifyPossession checks that req proves possession of the key that
// claims c (a token verified by the caller) are bound to, without checking
// the token itself. It is [Guard.Authorize] after verification, for
// callers that verify tokens some other way.
func (g *Guard) VerifyPossession(ctx context.Context, req *Request, c *wire.Claims) (Binding, error) {
	scheme, raw, ok := authorization(req.Authorization)
	if !ok {
		return "", ErrNoToken
	}
	return g.checkBinding(ctx, req, scheme, raw, c)
}

// checkBinding enforces c's binding for a token raw presented with scheme.
func (g *Guard) checkBinding(ctx context.Context, req *Request, scheme, raw string, c *wire.Claims) (Binding, error) {
	var jkt, x5t string
	if c.Cnf != nil {
		jkt, x5t = c.Cnf.JKT, c.Cnf.X5TS256
	}
	b := Bearer
	switch {
	case scheme == dpop.Scheme && jkt == "":
		return "", invalid("DPoP authorization with a token not bound to a DPoP key")
	case jkt != "" && scheme != dpop.Scheme:
		// RFC 9449 §7.2: a DPoP-bound token is never a bearer token.
		return "", invalid("DPoP-bound token presented as a bearer token")
	case jkt != "":
		_, err := g.proofs.Verify(ctx, dpop.Request{Proofs: req.DPoP, Method: req.Method, URI: req.URI, AccessToken: raw, JKT: jkt})
		switch {
		case errors.Is(err, dpop.ErrKeyMismatch):
			return "", invalid("%v", err) // the token is not this key's (§7.1: invalid_token)
		case errors.Is(err, dpop.ErrInvalidProof) || errors.Is(err, dpop.ErrUseNonce):
			return "", err
		case err != nil:
			return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		b = DPoP
	}
	if x5t != "" {
		var cert *x509.Certificate
		if req.Certificate != nil {
			cert = req.Certificate()
		}
		if cert == nil {
			return "", invalid("certificate-bound token without a client certificate")
		}
		if subtle.ConstantTimeCompare([]byte(clientcert.Thumbprint(cert)), []byte(x5t)) != 1 {
			return "", invalid("certificate-bound token presented with another certificate")
		}
		if b == Bearer {
			b = MTLS
		}
	}
	if b == Bearer && g.cfg.RequireBinding {
		return "", invalid("token bound to no key; this service requires DPoP or certificate-bound tokens")
	}
	return b, nil
}

// authorization splits an Authorization header value of the Bearer (RFC
// 6750 §2.1) or DPoP (RFC 9449 §7.1) scheme.
func authorization(h string) (scheme, token string, ok bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok {
		return "", "", false
	}
	switch {
	case strings.EqualFold(scheme, wire.TokenTypeBearer):
		scheme = wire.TokenTypeBearer
	case strings.EqualFold(scheme, dpop.Scheme):
		scheme = dpop.Scheme
	default:
		return "", "", false
	}
	tok = strings.TrimSpace(tok)
	return scheme, tok, tok != ""
}

// TargetURI returns the URI a client called to reach r, which its DPoP
// proof's htu names: Config.ExternalURL followed by r's path, or, without
// ExternalURL, the URL rebuilt from r (https when it came over TLS, else
// http; its Host).
func (g *Guard) TargetURI(r *http.Request) string {
	if g.cfg.ExternalURL != "" {
		return g.cfg.ExternalURL + r.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}

// ExternalURI returns Config.ExternalURL followed by path, or "" when no
// ExternalURL is configured.
func (g *Guard) ExternalURI(path string) string {
	if g.cfg.ExternalURL == "" {
		return ""
	}
	return g.cfg.ExternalURL + path
}

// DPoPNonce returns the DPoP nonce to send in a DPoP-Nonce header, or ""
// when Config.DPoP.Nonce is off.
func (g *Guard) DPoPNonce() string {
	if g.nonces == nil {
		return ""
	}
	return g.nonces.Current()
}

// DPoPAlgorithms returns the accepted DPoP proof algorithms, for the algs
// parameter of a DPoP challenge (RFC 9449 §7.1).
func (g *Guard) DPoPAlgorithms() []string { return g.proofs.Algorithms() }

// ForwardedCertificate returns the client certificate a trusted proxy
// forwarded in values (every value of Config.ClientCertificate.Header) for
// a call whose direct peer is peer, or nil; for transports other than
// net/http.
func (g *Guard) ForwardedCertificate(values []string, peer netip.Addr) *x509.Certificate {
	chain, err := g.cfg.ClientCertificate.FromHeader(values, peer)
	if err != nil {
		g.log.Warn("forwarded client certificate not usable", "error", err)
		return nil
	}
	if len(chain) == 0 {
		return nil
	}
	return chain[0]
}

// ClientCertificateHeader returns the header a trusted proxy forwards the
// client certificate in (Config.ClientCertificate.Header), or "".
func (g *Guard) ClientCertificateHeader() string { return g.cfg.ClientCertificate.Header }

// certificateOf returns a lazy reader of r's client certificate.
func (g *Guard) certificateOf(r *http.Request) func() *x509.Certificate {
	return func() *x509.Certificate {
		chain, _, err := g.cfg.ClientCertificate.Chain(r)
		if err != nil {
			g.log.Warn("client certificate not usable", "path", r.URL.Path, "error", err)
			return nil
		}
		if len(chain) == 0 {
			return nil
		}
		return chain[0]
	}
}
