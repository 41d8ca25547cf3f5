// Package oauth implements Permiso's OAuth 2.0 protocol surface: the token
// endpoint as one dispatcher plus one small type per grant, client
// authentication, introspection (RFC 7662), revocation (RFC 7009) and the
// server metadata (RFC 8414). Protocol methods take typed requests and
// return values or *web.Error; the handlers in http.go only decode and
// encode, so every rule can be tested without HTTP and exists once (the
// /api/v1 token endpoints call the same methods).
package oauth
