// Package forwardauth decides, for a gateway or proxy, whether a request
// may reach the service behind it: nginx auth_request, Caddy forward_auth,
// Traefik forwardAuth and Envoy ext_authz (HTTP mode here; the gRPC
// Authorization service is the separate module sdk/forwardauth/extauthz,
// so this package pulls in no gRPC).
//
// A rules file maps host, path pattern (Go ServeMux syntax) and methods to
// the audience and scopes a request needs, or marks it public; anything
// else is refused (403). The file is validated as a whole, every problem
// listed, and re-read when it changes without dropping a request: the
// compiled table is swapped atomically.
//
// Tokens are verified by a [guard.Guard] shared by every rule (one key set,
// one revocation list, one cache of verified tokens), so a decision for a
// token seen before is a few map lookups and never leaves the process.
// Paths are matched as the upstream will read them (see [CleanPath]).
//
// Tokens bound to a key are held to their binding as sdk/guard holds them
// (see [guard.Guard.Authorize]): a DPoP-bound token needs "Authorization:
// DPoP" and the client's DPoP header, which the proxy must pass on, checked
// for the method, X-Forwarded-Proto, host and path the client used (RFC
// 9449 §7); a certificate-bound token needs the client certificate, from a
// header a trusted proxy sets (guard.Config.ClientCertificate) or from
// Envoy's check request (RFC 8705 §3). A bound token presented as a bearer
// token is refused.
//
// An allowed request gets 200 and identity headers (subject, client,
// scopes, token kind, actor, username, token id; names configurable). A
// refused one gets 401 with a Bearer challenge, 403 (insufficient_scope
// naming the missing scopes, or no rule), or 503 while the issuer's keys
// are unknown.
//
// API maturity: new; may change before the sdk module's next minor release.
package forwardauth
