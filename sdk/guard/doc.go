// Package guard protects a service's endpoints with OAuth 2.0 bearer access
// tokens (RFC 6750) issued by Permiso or any RFC 9068 compliant server.
//
// A [Guard] verifies tokens locally against the issuer's JWKS, found through
// RFC 8414 metadata and cached in memory (honouring Cache-Control, refreshed
// on an unknown kid at a limited rate, kept when a refresh fails). It checks
// the header typ (at+jwt), an allow-list of asymmetric algorithms (never
// none, never HMAC, the key bound to its alg), the key id and signature,
// iss, aud, sub, jti, exp/nbf/iat with a small leeway, and the token size,
// all with package [jwt], the SDK's one verifier. Verified tokens are
// cached, bounded in number, so a token presented again costs a map lookup.
//
// A guard may accept several issuers (Config.Issuers: the tenants of a
// Permiso, say). It then keeps one key set and revocation list per issuer,
// verifies a token only with the keys of the issuer its iss names, and
// [Issuer] tells handlers which issuer a request's token came from.
//
// Two stricter modes are available: with RevocationPoll set, the guard
// follows the server's revocation list (metadata revocation_list_endpoint)
// and refuses revoked tokens within one poll interval, without a network call
// per request; with Mode set to [ModeIntrospection] every new token is
// checked with the server's introspection endpoint (RFC 7662) and the answer
// is cached briefly.
//
// Proof of possession: a token bound to a key is accepted only with proof
// that the caller holds the key. A DPoP-bound token (cnf.jkt, RFC 9449)
// must come as "Authorization: DPoP" with a DPoP proof for this very
// request: its htm and htu (rebuilt from Config.ExternalURL behind a
// proxy), its ath, an iat within the window, a jti not seen before by this
// guard (a bounded in-memory cache per Guard), and optionally the guard's
// nonce. A certificate-bound token (cnf.x5t#S256, RFC 8705 §3) needs its
// client certificate, from the TLS connection or forwarded by a trusted
// proxy. A bound token presented as a bearer token is refused (RFC 9449
// §7.2); Config.RequireBinding refuses plain bearer tokens too. Handlers
// learn how the request proved possession with [BindingFrom].
//
// [Guard.Require] returns plain net/http middleware enforcing [AllOf],
// [AnyOf] (with the implied-scope rule of [wire.HasScope]) and [Trusted]
// requirements and answering failures as RFC 6750 §3 and RFC 9449 §7
// describe. Handlers read the claims with [ClaimsFrom] and the typed
// accessors. [Guard.Authorize] serves other transports (it takes the
// Authorization value, DPoP proofs, method, target URI and client
// certificate of a call) and [Guard.Verify] checks a bare token; gRPC
// interceptors live in the separate module
// sdk/guard/grpcguard so HTTP-only users never depend on gRPC.
//
// API maturity: stable within a major version of the sdk module.
package guard
