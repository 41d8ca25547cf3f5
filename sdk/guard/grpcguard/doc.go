// Package grpcguard provides gRPC server interceptors that authenticate
// calls with a [guard.Guard]: the bearer token is read from the
// "authorization" metadata (as "Bearer <token>"), verified, checked against
// the requirements, and its claims are put in the context, where
// [guard.ClaimsFrom] finds them.
//
// Failures map to codes.Unauthenticated (no or invalid token),
// codes.PermissionDenied (requirements not met) and codes.Unavailable (the
// issuer could not be reached to check a new token).
//
// It is a separate module so that services using only net/http never
// depend on gRPC.
//
// API maturity: stable within a major version of the sdk module.
package grpcguard
