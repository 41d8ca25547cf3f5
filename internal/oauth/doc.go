// Package oauth implements Permiso's OAuth 2.0 protocol surface: the token
// endpoint as one dispatcher plus one small type per grant, client
// authentication, introspection (RFC 7662), revocation (RFC 7009) and the
// server metadata (RFC 8414). Protocol methods take typed requests and
// return values or *web.Error; the handlers in http.go only decode and
// encode, so every rule can be tested without HTTP and exists once (the
// /api/v1 token endpoints call the same methods).
//
// A [Provider] is constructed with everything it needs: the grants beyond
// client_credentials ([GrantType], e.g. [UserTokens.Grants]), what client
// authentication beyond secrets needs (replay records, remote keys, trusts,
// client CAs: see clientauth.go), the subject check and the refresh-token
// handler. Grants share a [Minter] (the issuer, the audience rule and the
// signer), built before them. Nothing is registered on a provider after New.
package oauth
