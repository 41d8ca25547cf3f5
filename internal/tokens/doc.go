// Package tokens mints and verifies Permiso's access tokens (RFC 9068 JWTs
// signed by package keys), creates opaque refresh tokens and codes (stored
// only as hashes), and keeps the access-token revocation list in memory,
// in step with the store, so that checking it costs a map lookup.
package tokens
