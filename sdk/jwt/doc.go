// Package jwt is Permiso's one implementation of JWT verification: JSON Web
// Tokens (RFC 7519) in JWS compact serialization (RFC 7515), signed with an
// asymmetric algorithm. The server (access tokens presented to it), sdk/guard
// (access tokens presented to a service) and every other verifier (client
// assertions, DPoP proofs, tokens of other issuers) use it, each with its own
// [Config]; none parses a JWS by itself.
//
// A [Verifier] checks, in order:
//
//   - form: at most MaxBytes (8 KiB by default), exactly three base64url
//     parts; a JWE, an unsecured JWS, alg "none", a crit, b64 or zip header
//     are refused;
//   - alg: in the allow-list, asymmetric only (ES256, ES384, ES512, EdDSA,
//     RS256, RS384, RS512, PS256, PS384, PS512); HMAC never, so a public
//     key can never serve as a shared secret;
//   - typ: one of the expected types (explicit typing, RFC 8725 §3.11),
//     such as at+jwt for RFC 9068 access tokens or dpop+jwt for DPoP proofs;
//   - the key: looked up by kid in a [KeySet] (a fixed [Set], or one that
//     fetches, such as the guard's cached JWKS), or taken from the header's
//     jwk for DPoP proofs (public keys only); the key must fit alg by type,
//     curve and size, and a key whose JWK names an alg verifies only that
//     alg;
//   - the signature;
//   - the claims: those listed in Require present, iss exact, aud containing
//     an expected audience, exp, nbf and iat against an injected clock with
//     a leeway, and an optional maximum age of iat.
//
// The verified [Token] holds the header, the registered [Claims], the raw
// payload (decode the token's own claims from it with [Token.Decode]) and
// the [Key] that verified, whose [Key.Thumbprint] is DPoP's jkt. Errors match
// [ErrInvalid] and one precise sentinel (ErrExpired, ErrSignature, ...);
// errors of a KeySet that could not fetch keys do not match ErrInvalid, so a
// caller can tell "bad token" from "cannot check now".
//
// The package keeps no state beyond its arguments: caches of verified
// tokens belong to the callers, which re-check times on every hit with
// [Verifier.CheckTimes].
//
// API maturity: stable within a major version of the sdk module. New
// algorithms, Config fields and sentinel errors may be added; nothing that
// is accepted today will be refused without a major version, except to fix
// a security flaw.
package jwt
