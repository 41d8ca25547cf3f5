// Package remotekeys fetches and caches public keys that live at a URL
// someone gave Permiso: a client's jwks_uri (private_key_jwt), an issuer's
// OpenID discovery document and the jwks_uri it names, and a SPIFFE trust
// bundle endpoint. Each source is a [jwt.KeySet], so the one verifier
// (sdk/jwt) looks keys up through it.
//
// Every fetch goes through internal/outbound (address checked on the
// address actually dialled and after every redirect, time and size
// limits). A fetched set is kept for the response's Cache-Control max-age
// (or a SPIFFE bundle's spiffe_refresh_hint), bounded by MinTTL and
// MaxTTL. A kid the cached set lacks triggers a refetch, at most once per
// RefetchInterval per URL, so tokens with invented kids cannot make
// Permiso hammer someone's server. When a refetch fails, the previous set
// stays in use for up to MaxStale. Concurrent lookups share one fetch.
//
// Errors of a failed fetch wrap [ErrUnavailable]; they do not match
// jwt.ErrInvalid, so a verifier passes them on and the caller can tell "no
// such key" from "cannot tell now". Their text is for logs; [Describe]
// gives text fit for an operator-facing message.
package remotekeys
