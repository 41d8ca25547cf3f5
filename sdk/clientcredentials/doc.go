// Package clientcredentials gets and keeps OAuth 2.0 access tokens for a
// calling service with the client credentials grant (RFC 6749 §4.4).
//
// A [Config] names the authorization server by its issuer URL; the token
// endpoint is found through RFC 8414 metadata (with the OpenID Connect
// discovery document as a fallback), so the package works against Permiso and
// any standards-compliant server. [Config.TokenSource] returns a [Source]
// that implements [golang.org/x/oauth2.TokenSource] and
//
//   - caches tokens per (sorted scopes, audience),
//   - refreshes them in the background before they expire, with jitter, so
//     callers never wait on the token endpoint while a valid token exists,
//   - shares one in-flight request among concurrent callers,
//   - retries network errors, 5xx and 429 responses with exponential backoff
//     and jitter (honouring Retry-After), never invalid_client or other 4xx,
//   - stops calling an authorization server that keeps failing (a circuit
//     breaker) while callers keep using a still-valid cached token.
//
// [Source.Transport] and [Config.Client] add the bearer token to outgoing
// requests and, when the called service answers 401 with
// error="invalid_token", drop the cached token and retry the request once if
// its body can be replayed.
//
// With Config.DPoPKey the tokens are bound to that key (DPoP, RFC 9449):
// each token request carries a proof, and the transports send each request
// with "Authorization: DPoP" and a fresh proof for it (htm, htu, ath, the
// server's last nonce), retrying once when a server answers
// use_dpop_nonce. A token copied from a log or a proxy is then useless
// without the private key, which may stay in an HSM or KMS (any
// crypto.Signer).
//
// The client authenticates with a secret (ClientSecret or ClientSecretFile,
// Basic or form), or holds no shared secret at all:
//
//   - Config.PrivateKey or PrivateKeyFile: private_key_jwt (RFC 7523), a
//     fresh assertion signed for every request (aud the issuer, typ
//     client-authentication+jwt, as draft-ietf-oauth-rfc7523bis asks);
//   - Config.AssertionFile or Assertion: a token someone else issued (a
//     Kubernetes projected service account token, a SPIFFE JWT-SVID), read
//     anew for every request, for workload identity federation;
//   - Config.TLSConfig: the TLS client certificate of mutual TLS (RFC
//     8705), alone or beside another credential.
//
// OAuth error responses are returned as [*wire.Error], which carries the
// error code, description and HTTP status. Metrics are reported through
// [Hooks] so the package depends on no metrics library.
//
// The package leaves token verification to package guard.
//
// API maturity: stable within a major version of the sdk module.
package clientcredentials
