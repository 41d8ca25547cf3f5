// Package wire holds the protocol vocabulary that both the Permiso server and
// its SDK speak: grant types, error codes, the OAuth error type, the token and
// introspection responses, access-token claims and the authorization-server
// metadata document.
//
// Both sides import this package so that the shapes on the wire cannot drift
// apart. It depends on the standard library only.
//
// API maturity: stable within a major version of the sdk module.
package wire
