// Package testissuer is a small in-process OAuth 2.0 authorization server
// for the sdk module's tests and examples: metadata, JWKS with rotation,
// client credentials tokens (RFC 9068 JWTs), introspection and a revocation
// list. It is not meant for production and is imported only by tests.
package testissuer
