package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrNotLoopback means a target resolves to an address off this machine
// and the caller did not allow remote targets.
var ErrNotLoopback = errors.New("target is not a loopback address (use --allow-remote to benchmark another machine)")

// LookupFunc resolves a host name to addresses, like
// (*net.Resolver).LookupNetIP with network "ip".
type LookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

func defaultLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckLoopback returns nil when host (a name or an IP literal, with or
// without brackets) resolves only to loopback addresses, and an error
// wrapping [ErrNotLoopback] otherwise. A name that does not resolve is
// refused too. A nil lookup uses the system resolver.
func CheckLoopback(ctx context.Context, host string, lookup LookupFunc) error {
	if host == "" {
		return fmt.Errorf("check target: empty host")
	}
	h := host
	if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
		h = h[1 : len(h)-1]
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		if !ip.Unmap().IsLoopback() {
			return fmt.Errorf("check target %s: %w", host, ErrNotLoopback)
		}
		return nil
	}
	if lookup == nil {
		lookup = defaultLookup
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := lookup(ctx, h)
	if err != nil {
		return fmt.Errorf("check target %s: resolve: %w", host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("check target %s: no addresses", host)
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return fmt.Errorf("check target %s (%s): %w", host, a, ErrNotLoopback)
		}
	}
	return nil
}

// CheckTargetURL parses a base URL and applies [CheckLoopback] to its host
// unless allowRemote is set.
func CheckTargetURL(ctx context.Context, raw string, allowRemote bool, lookup LookupFunc) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("target %q: scheme must be http or https", raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("target %q: no host", raw)
	}
	if !allowRemote {
		if err := CheckLoopback(ctx, u.Hostname(), lookup); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// newDialer returns a dialer that, unless allowRemote is set, refuses to
// connect to anything but a loopback address; it checks the address after
// resolution, so a name that changes its answer cannot redirect the load.
func newDialer(allowRemote bool) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowRemote {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			if !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("dial %s: %w", address, ErrNotLoopback)
			}
			return nil
		}
	}
	return d
}

// newClient returns an HTTP client that uses at most conns connections,
// keeps them alive, never uses a proxy, never follows redirects and never
// asks for compression.
func newClient(conns int, allowRemote bool) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           newDialer(allowRemote).DialContext,
		MaxConnsPerHost:       conns,
		MaxIdleConnsPerHost:   conns,
		MaxIdleConns:          conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 0,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
