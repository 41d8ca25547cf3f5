package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Errors other than [ErrBlocked] that a request can end with.
var (
	ErrTooLarge     = errors.New("outbound response too large")
	ErrRedirects    = errors.New("outbound request redirected too often")
	ErrBadRedirect  = errors.New("outbound redirect not allowed")
	ErrURLNotUsable = errors.New("outbound URL not usable")
)

// Config sets the limits of a [Client]. Zero values are the defaults.
type Config struct {
	// Timeout bounds a whole request: dialling, TLS, redirects, headers
	// and reading the body. Default 10s.
	Timeout time.Duration
	// MaxBodyBytes caps a response body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxRedirects is how many redirects are followed. Default 3; a
	// negative value follows none (the 3xx response is returned as is).
	MaxRedirects int
	// Allow lists prefixes that may be dialled although they are internal.
	Allow []netip.Prefix
	// UserAgent is sent when a request sets none. Default "Permiso".
	UserAgent string
	// TLS configures TLS (tests set RootCAs); nil uses the system roots.
	TLS *tls.Config
}

// Client makes outbound HTTP requests within the limits of its Config.
// It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = 3
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "Permiso"
	}
	cfg.Allow = append([]netip.Prefix(nil), cfg.Allow...)
	c := &Client{cfg: cfg}
	dialer := &net.Dialer{Timeout: min(cfg.Timeout, 10*time.Second), KeepAlive: 30 * time.Second, Control: c.control}
	var tlsConf *tls.Config
	if cfg.TLS != nil {
		tlsConf = cfg.TLS.Clone()
	}
	tr := &http.Transport{
		Proxy:                  nil, // never from the environment
		DialContext:            dialer.DialContext,
		TLSClientConfig:        tlsConf,
		TLSHandshakeTimeout:    min(cfg.Timeout, 10*time.Second),
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	c.http = &http.Client{
		Transport:     &limited{next: tr, cfg: &c.cfg},
		Timeout:       cfg.Timeout,
		CheckRedirect: c.checkRedirect,
	}
	return c
}

// HTTPClient returns an *http.Client that applies every limit of c. It
// is shared: do not modify it.
func (c *Client) HTTPClient() *http.Client { return c.http }

// Do sends req after checking its URL. Read the body to its end (or
// close it); reading past MaxBodyBytes fails with ErrTooLarge.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if _, err := checkURL(req.URL); err != nil {
		return nil, err
	}
	return c.http.Do(req)
}

// Get fetches url and returns the status and the body, read in full
// within the limits.
func (c *Client) Get(ctx context.Context, rawURL string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrURLNotUsable, err)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, nil, err
	}
	return res, body, nil
}

// CheckURL parses a URL given to Permiso (a webhook URL, a jwks_uri) and
// says whether it can be fetched: http or https, a host, no userinfo, no
// fragment, and, when the host is a literal IP address, one that may be
// dialled. A host name is checked again at every dial.
func (c *Client) CheckURL(raw string) (*url.URL, error) {
	if len(raw) > 2048 {
		return nil, fmt.Errorf("%w: longer than 2048 characters", ErrURLNotUsable)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a URL", ErrURLNotUsable)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, fmt.Errorf("%w: it has a fragment", ErrURLNotUsable)
	}
	if _, err := checkURL(u); err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil {
		if err := check(a.WithZone(""), c.cfg.Allow); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// checkURL is the syntax part of CheckURL, also applied to every request
// and redirect.
func checkURL(u *url.URL) (*url.URL, error) {
	switch {
	case u == nil:
		return nil, fmt.Errorf("%w: no URL", ErrURLNotUsable)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: the scheme must be http or https", ErrURLNotUsable)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%w: it has no host", ErrURLNotUsable)
	case u.User != nil:
		return nil, fmt.Errorf("%w: it carries a user name or password", ErrURLNotUsable)
	case strings.Contains(u.Host, "%"):
		return nil, fmt.Errorf("%w: zoned addresses are not allowed", ErrURLNotUsable)
	}
	return u, nil
}

// control runs for every connection the dialer opens, with the resolved
// address: the one place an address is judged, so neither DNS answers nor
// redirects can get around it.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return &BlockedError{Reason: "network " + network}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable dial address", ErrBlocked)
	}
	return check(ap.Addr().WithZone(""), c.cfg.Allow)
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.cfg.MaxRedirects < 0 {
		return http.ErrUseLastResponse
	}
	if len(via) > c.cfg.MaxRedirects {
		return fmt.Errorf("%w (more than %d)", ErrRedirects, c.cfg.MaxRedirects)
	}
	if _, err := checkURL(req.URL); err != nil {
		return fmt.Errorf("%w: %w", ErrBadRedirect, err)
	}
	if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: from https to http", ErrBadRedirect)
	}
	return nil
}

// limited sets the User-Agent and caps response bodies.
type limited struct {
	next http.RoundTripper
	cfg  *Config
}

func (l *limited) RoundTrip(req *http.Request) (*http.Response, error) {
	// Every request, also one sent through HTTPClient and each redirect,
	// passes the URL rules (scheme, host, no userinfo).
	if _, err := checkURL(req.URL); err != nil {
		return nil, err
	}
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", l.cfg.UserAgent)
	}
	res, err := l.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if res.ContentLength > l.cfg.MaxBodyBytes {
		res.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes announced, at most %d", ErrTooLarge, res.ContentLength, l.cfg.MaxBodyBytes)
	}
	res.Body = &capped{ReadCloser: res.Body, left: l.cfg.MaxBodyBytes}
	return res, nil
}

// capped fails a read that would pass the limit, so a caller never
// mistakes a cut body for a whole one.
type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	if c.left < 0 {
		return n + int(c.left), ErrTooLarge
	}
	return n, err
}
