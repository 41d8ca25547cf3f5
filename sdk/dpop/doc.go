// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (DPoP, RFC 9449) for both sides of a request.
//
// A client holds a key pair and sends, with every request, a proof: a JWT
// of type dpop+jwt carrying its public key, signed with the private key,
// naming the request's method (htm) and target URI (htu), with a fresh jti
// and iat and, next to an access token, the token's hash (ath). A token
// bound to the key (its cnf.jkt is the key's RFC 7638 thumbprint) is useless
// to whoever copies it without the private key.
//
//   - [Signer] makes proofs with a [crypto.Signer], so a key held by an HSM,
//     a KMS or the platform works as well as one in memory.
//   - [Verifier] checks a proof as RFC 9449 §4.3 asks, with the SDK's one
//     JWS verifier (package jwt): exactly one DPoP header, a well-formed
//     JWT with typ dpop+jwt, an asymmetric alg in the allow-list, the
//     signature under the public key in the jwk header (never a private
//     key), htm and htu matching the request (htu after RFC 3986 syntax- and
//     scheme-based normalization, query and fragment ignored), iat within
//     the window, the server's nonce when nonces are on, ath and the bound
//     key when an access token comes with it, and the jti not seen before
//     within the window.
//   - [Nonces] are server-provided nonces (§8, §9) that need no shared state:
//     a nonce is a time step and its HMAC, so replicas that share the
//     secret accept each other's nonces.
//   - [MemoryReplay] is a bounded in-memory jti cache for one process; an
//     authorization server with several replicas plugs a shared [Replay]
//     instead.
//
// The authorization server (Permiso's token endpoint) and the resource
// server (sdk/guard, sdk/guard/grpcguard, sdk/forwardauth) use the same
// Verifier; sdk/clientcredentials uses the Signer.
//
// API maturity: new; may change before the sdk module's next minor release.
package dpop
