// Package oauth implements Permiso's OAuth 2.0 protocol surface: the token
// endpoint as one dispatcher plus one small type per grant, client
// authentication, introspection (RFC 7662), revocation (RFC 7009) and the
// server metadata (RFC 8414). Protocol methods take typed requests and
// return values or *web.Error; the handlers in http.go only decode and
// encode, so every rule can be tested without HTTP and exists once (the
// /api/v1 token endpoints call the same methods).
//
// Sender-constrained tokens (binding.go): the dispatcher checks a token
// request's DPoP proof (RFC 9449, with sdk/dpop) and the client's
// certificate binding (RFC 8705 §3) and sets TokenRequest.Bind, which the
// grants put in cnf; [RequirePossession] holds a redeemed grant (a bound
// refresh family, a code with dpop_jkt, a bound subject token) to its
// binding; [Provider.VerifyRequest] holds tokens presented to Permiso's own
// API to theirs.
//
// A [Provider] is constructed with everything it needs: the grants beyond
// client_credentials ([GrantType], e.g. [UserTokens.Grants]), what client
// authentication beyond secrets needs (replay records, remote keys, trusts,
// client CAs: see clientauth.go), the subject check and the refresh-token
// handler. Grants share a [Minter] (the issuer, the audience rule and the
// signer), built before them. Nothing is registered on a provider after New.
package oauth
