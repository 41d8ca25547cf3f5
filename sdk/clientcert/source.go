package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
)

// Header formats of a forwarded client certificate.
const (
	FormatNginx = "nginx" // URL-escaped PEM ($ssl_client_escaped_cert)
	FormatXFCC  = "xfcc"  // Envoy's X-Forwarded-Client-Cert
)

// Sources of a certificate.
const (
	SourceTLS    = "tls"    // the request's own TLS connection
	SourceHeader = "header" // a header from a trusted proxy
)

// ErrUntrustedPeer is returned when a forwarded certificate header comes
// from a peer that is not a trusted proxy: the header is ignored.
var ErrUntrustedPeer = errors.New("clientcert: forwarded certificate from an untrusted peer")

// Thumbprint returns base64url(SHA-256(DER)) of c: the x5t#S256
// confirmation of RFC 8705 §3.1.
func Thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Forwarded says where a reverse proxy that terminates TLS puts the client
// certificate. The zero value reads certificates from TLS connections only.
type Forwarded struct {
	// Header names the header the proxy sets; empty reads none.
	Header string
	// Format is FormatNginx or FormatXFCC.
	Format string
	// TrustedProxies are the direct peers whose Header is believed. The
	// proxy must also overwrite (never pass through) the header a client
	// sends.
	TrustedProxies []netip.Prefix
}

// Check reports a configuration error.
func (f Forwarded) Check() error {
	if f.Header == "" {
		return nil
	}
	if f.Format != FormatNginx && f.Format != FormatXFCC {
		return fmt.Errorf("clientcert: header format must be %s or %s", FormatNginx, FormatXFCC)
	}
	if len(f.TrustedProxies) == 0 {
		return errors.New("clientcert: a forwarded certificate header needs trusted proxies")
	}
	return nil
}

// Chain returns the certificate chain of r, the client's certificate
// first, and where it came from: the TLS connection, else Header when r's
// direct peer is a trusted proxy. No certificate is (nil, "", nil). A
// header that cannot be believed or read is an error (and no certificate).
func (f Forwarded) Chain(r *http.Request) ([]*x509.Certificate, string, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		chain := r.TLS.PeerCertificates
		if len(chain) > MaxChain {
			chain = chain[:MaxChain]
		}
		return chain, SourceTLS, nil
	}
	if f.Header == "" {
		return nil, "", nil
	}
	values := r.Header.Values(f.Header)
	if len(values) == 0 {
		return nil, "", nil
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return nil, "", ErrUntrustedPeer
	}
	chain, err := f.FromHeader(values, peer.Addr())
	if chain == nil || err != nil {
		return nil, "", err
	}
	return chain, SourceHeader, nil
}

// FromHeader reads the certificate a proxy forwarded in values (every
// value of Header) for a request whose direct peer is peer, for transports
// other than net/http (gRPC metadata). No value is (nil, nil).
func (f Forwarded) FromHeader(values []string, peer netip.Addr) ([]*x509.Certificate, error) {
	if f.Header == "" || len(values) == 0 {
		return nil, nil
	}
	if !f.trusted(peer.Unmap()) {
		return nil, ErrUntrustedPeer
	}
	if len(values) > 1 {
		return nil, errors.New("clientcert: more than one forwarded certificate header")
	}
	if f.Format == FormatXFCC {
		return ParseXFCC(values[0])
	}
	return ParseEscapedPEM(values[0])
}

func (f Forwarded) trusted(a netip.Addr) bool {
	for _, p := range f.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
