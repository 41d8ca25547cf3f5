// Package outbound is Permiso's one HTTP client for requests to addresses
// it was given by someone else: a client's webhook URL, a jwks_uri, an
// OpenID discovery document. Every such fetch goes through it, so every
// one has the same limits:
//
//   - The address actually dialled is checked, after name resolution and
//     on every connection, including each one a redirect opens. Loopback,
//     private (RFC 1918, fc00::/7), link-local, unspecified, multicast,
//     shared (CGNAT, 100.64.0.0/10), documentation, benchmarking and
//     reserved addresses are refused, as are IPv6 forms that embed a
//     refused IPv4 address (NAT64, 6to4, IPv4-mapped). A name that
//     resolves to a public address at check time and to a private one at
//     dial time (DNS rebinding) is therefore refused too. [Config.Allow]
//     lets chosen prefixes through (tests allow [Loopback]; a deployment
//     may allow its own network for webhooks).
//   - Only http and https, no userinfo in URLs, at most
//     [Config.MaxRedirects] redirects, never from https down to http.
//   - [Config.Timeout] bounds the whole exchange, body included.
//   - A response body larger than [Config.MaxBodyBytes] fails with
//     [ErrTooLarge] (at once when Content-Length says so).
//   - No proxy: HTTP_PROXY and friends in the environment are ignored, so
//     a variable set for something else cannot route Permiso's calls (and
//     the proxy cannot dial the internal addresses on its behalf).
//
// Use:
//
//	c := outbound.New(outbound.Config{Timeout: 5 * time.Second})
//	if _, err := c.CheckURL(raw); err != nil { ... }     // when a URL is configured
//	res, err := c.Do(req)                                 // or c.HTTPClient() for libraries
//	if errors.Is(err, outbound.ErrBlocked) { ... }
//
// [Client.HTTPClient] returns a plain *http.Client with the same checks
// (URL rules on every request, addresses on every dial, the caps),
// for code that wants one (a JWKS fetcher, an OAuth library). Errors say
// what was refused and why (see [BlockedError]) but they are for logs:
// show a caller only [Describe]'s short text, which never carries the
// address or the remote's words.
//
// The package depends on the standard library only. It owns nothing
// about what is fetched; signing webhooks or parsing JWKS belongs to
// the packages that do those.
package outbound
