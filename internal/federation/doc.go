// Package federation authenticates clients with tokens issued by someone
// else: workload identity federation. An administrator registers trusts
// (an external issuer, where its keys come from, the audience Permiso
// expects and a maximum token age) and binds clients to external
// identities (a trust, a subject, optional claim conditions). A workload
// then presents its platform's token as its client assertion:
//
//   - a Kubernetes projected service account token, a CI system's OIDC
//     token or another identity provider's JWT, as a jwt-bearer client
//     assertion (RFC 7523 §2.2, the shape Keycloak's federated client
//     authentication takes);
//   - a SPIFFE JWT-SVID, as a jwt-spiffe client assertion
//     (draft-ietf-oauth-spiffe-client-auth §3.1), whose sub is the
//     workload's SPIFFE ID and whose aud is Permiso's issuer alone.
//
// The package keeps every trust and binding in memory (reloaded when the
// store announces a change), finds the trust and binding of a token from
// its unverified claims, then verifies it with the one verifier (sdk/jwt)
// against the trust's keys (internal/remotekeys for OIDC discovery,
// jwks_uri and SPIFFE bundle endpoints).
//
// Federated tokens are reused by design (a projected token or an SVID is
// presented until it expires), so they are bounded by the trust's audience
// and maximum age, never by single use. The protocol decisions (which
// client, which method, what the caller is told) belong to package oauth.
package federation
