package oauth

import (
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// RedirectURIProblem says why raw cannot be a registered redirect URI, or
// "" when it can. Codes are sent to a redirect URI, so only places the
// client controls qualify (RFC 9700 §4.1, RFC 8252 §7, §8.4):
//
//   - https with a host;
//   - http on the loopback interface only (127.0.0.0/8, [::1],
//     localhost and *.localhost), for native apps and local development;
//   - a private-use scheme of a native app, named by a reverse domain name
//     (com.example.app:/callback, RFC 8252 §7.1).
//
// Everything else — javascript:, data:, file:, a scheme without a dot,
// http to another host — is refused: the browser would run it, read a
// local file, or send the code in the clear.
func RedirectURIProblem(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "is not an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "must not have a fragment"
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "https":
		if u.Host == "" || u.Opaque != "" {
			return "must name a host"
		}
		return ""
	case "http":
		if u.Host == "" || u.Opaque != "" {
			return "must name a host"
		}
		if !loopbackHost(u.Hostname()) {
			return "must use https (http is allowed only on a loopback address: 127.0.0.1, [::1] or localhost)"
		}
		return ""
	default:
		// A private-use scheme: a reverse domain name has a dot, which
		// no scheme a browser acts upon (javascript, data, file, blob,
		// vbscript, about, ftp, ws, ...) has.
		labels := strings.Split(scheme, ".")
		if len(labels) < 2 || slices.Contains(labels, "") {
			return "must be https, http on a loopback address, or a native app's private-use scheme named by a reverse domain name (com.example.app:/callback)"
		}
		return ""
	}
}

// loopbackHost reports whether host (without port) is on the loopback
// interface: a loopback IP literal, localhost, or a name under .localhost
// (RFC 6761 §6.3).
func loopbackHost(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().IsLoopback()
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// MatchRedirectURI returns the redirect URI of an authorization request
// when it is one of the registered ones: compared as exact strings (RFC
// 9700 §4.1.3), except that an http loopback URI may name any port (RFC
// 8252 §7.3: a native app listens on whatever port it gets), so
// http://127.0.0.1:53124/cb matches a registered http://127.0.0.1/cb or
// http://127.0.0.1:8080/cb. Only the port is free: scheme, host, path and
// query must be the same.
func MatchRedirectURI(registered []string, requested string) bool {
	if slices.Contains(registered, requested) {
		return true
	}
	req, ok := loopbackWithoutPort(requested)
	if !ok {
		return false
	}
	for _, r := range registered {
		if reg, ok := loopbackWithoutPort(r); ok && reg == req {
			return true
		}
	}
	return false
}

// loopbackWithoutPort returns raw without its port when it is an http URI
// on a loopback host, with nothing the comparison could be fooled by (user
// information, a fragment).
func loopbackWithoutPort(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") ||
		!loopbackHost(u.Hostname()) {
		return "", false
	}
	if p := u.Port(); p != "" {
		if strings.Trim(p, "0123456789") != "" {
			return "", false
		}
	}
	host := u.Hostname()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	u.Host = host
	return u.String(), true
}
