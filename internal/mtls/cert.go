package mtls

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcert"
)

// Header formats of a forwarded client certificate.
const (
	FormatNginx = clientcert.FormatNginx // URL-escaped PEM ($ssl_client_escaped_cert)
	FormatXFCC  = clientcert.FormatXFCC  // Envoy's X-Forwarded-Client-Cert
)

// Sources of a presented certificate.
const (
	SourceTLS    = clientcert.SourceTLS    // Permiso's own TLS listener
	SourceHeader = clientcert.SourceHeader // a header from a trusted proxy
)

// MaxChain bounds the certificates read from one request.
const MaxChain = clientcert.MaxChain

// The forwarded-header parsers live in the SDK, which sdk/guard shares.
var (
	ParseEscapedPEM = clientcert.ParseEscapedPEM
	ParseXFCC       = clientcert.ParseXFCC
)

// Presented is the certificate chain a request came with: the client's
// certificate first, then whatever intermediates it sent.
type Presented struct {
	Chain  []*x509.Certificate
	Source string // SourceTLS or SourceHeader
}

// Leaf returns the client's own certificate.
func (p *Presented) Leaf() *x509.Certificate { return p.Chain[0] }

// Thumbprint returns the base64url SHA-256 of the leaf's DER encoding, the
// x5t#S256 confirmation of RFC 8705 §3.1.
func (p *Presented) Thumbprint() string { return Thumbprint(p.Leaf()) }

// Thumbprint returns base64url(SHA-256(DER)) of c.
func Thumbprint(c *x509.Certificate) string { return clientcert.Thumbprint(c) }

type ctxKey struct{}

// FromContext returns the certificate the request came with, or nil.
func FromContext(ctx context.Context) *Presented {
	p, _ := ctx.Value(ctxKey{}).(*Presented)
	return p
}

// WithPresented returns ctx carrying p (for tests and non-HTTP callers).
func WithPresented(ctx context.Context, p *Presented) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Extractor puts the client certificate of each request into its context.
type Extractor struct {
	// Header names the header a proxy forwards the certificate in; empty
	// reads none.
	Header string
	// Format is FormatNginx or FormatXFCC.
	Format string
	// TrustedProxies are the direct peers whose Header is believed. From
	// anyone else the header is ignored (and logged).
	TrustedProxies []netip.Prefix
	// Logger receives refused forwarded certificates; nil discards.
	Logger *slog.Logger
}

// Check reports a configuration error.
func (e Extractor) Check() error {
	if err := e.forwarded().Check(); err != nil {
		return fmt.Errorf("%w (--trusted-proxies)", err)
	}
	return nil
}

func (e Extractor) forwarded() clientcert.Forwarded {
	return clientcert.Forwarded{Header: e.Header, Format: e.Format, TrustedProxies: e.TrustedProxies}
}

// Wrap returns next with the request's certificate in its context.
func (e Extractor) Wrap(next http.Handler) http.Handler {
	log := e.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cache := &headerCache{chains: map[string][]*x509.Certificate{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := e.extract(r, log, cache); p != nil {
			r = r.WithContext(WithPresented(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

func (e Extractor) extract(r *http.Request, log *slog.Logger, cache *headerCache) *Presented {
	value, cacheable := e.cacheable(r)
	if cacheable {
		if chain := cache.get(value); chain != nil {
			return &Presented{Chain: chain, Source: SourceHeader}
		}
	}
	chain, source, err := e.forwarded().Chain(r)
	switch {
	case errors.Is(err, clientcert.ErrUntrustedPeer):
		log.WarnContext(r.Context(), "forwarded client certificate from an untrusted peer ignored", "peer", r.RemoteAddr, "header", e.Header)
		return nil
	case err != nil:
		log.WarnContext(r.Context(), "forwarded client certificate not usable", "header", e.Header, "err", err)
		return nil
	case chain == nil:
		return nil
	}
	if cacheable && source == SourceHeader {
		cache.put(value, chain)
	}
	return &Presented{Chain: chain, Source: source}
}

// cacheable returns the forwarded header value of a request whose chain
// may come from the cache: one value, from a trusted proxy, on a
// connection without a certificate of its own (which takes precedence).
func (e Extractor) cacheable(r *http.Request) (string, bool) {
	if e.Header == "" || r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "", false
	}
	values := r.Header.Values(e.Header)
	if len(values) != 1 || len(values[0]) > maxCachedHeader {
		return "", false
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "", false
	}
	for _, p := range e.TrustedProxies {
		if p.Contains(peer.Addr().Unmap()) {
			return values[0], true
		}
	}
	return "", false
}

// Bounds of the forwarded-chain cache: entries, and the longest header
// value kept (a chain of a few certificates).
const (
	maxCachedChains = 1024
	maxCachedHeader = 16 << 10
)

// headerCache remembers the chains parsed from forwarded header values. A
// proxy forwards the same certificate with every request of a client, and
// parsing it (unescaping, PEM, X.509) was about a tenth of a token's cost.
// Whether the chain verifies is decided per request, at its time.
type headerCache struct {
	mu     sync.Mutex
	chains map[string][]*x509.Certificate
}

func (c *headerCache) get(value string) []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A copy of the slice: callers may reslice theirs.
	return slices.Clone(c.chains[value])
}

func (c *headerCache) put(value string, chain []*x509.Certificate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chains) >= maxCachedChains {
		for k := range c.chains { // drop one at random
			delete(c.chains, k)
			break
		}
	}
	c.chains[value] = slices.Clone(chain)
}

// Verify checks that chain leads to one of roots at now and that the leaf
// may authenticate a TLS client. The leaf's own validity period counts.
func Verify(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	_, err := verifyChains(chain, roots, now)
	return err
}

// verifyChains is Verify returning the certificates of the first chain
// built.
func verifyChains(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) ([]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("no certificate")
	}
	if roots == nil {
		return nil, errors.New("no client CA configured")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return nil, err
	}
	return chains[0], nil
}

// LoadPool reads PEM certificates (a CA bundle) into a pool.
func LoadPool(pemData []byte) (*x509.CertPool, int, error) {
	certs, err := clientcert.ParsePEM(string(pemData), 1000)
	if err != nil {
		return nil, 0, err
	}
	if len(certs) == 0 {
		return nil, 0, errors.New("no certificate in PEM data")
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, len(certs), nil
}
