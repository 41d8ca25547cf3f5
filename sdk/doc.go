// Package sdk is the root of the Permiso Go SDK module. It holds no code of
// its own; the SDK is in its sub-packages:
//
//   - wire: the protocol vocabulary shared with the server,
//   - clientcredentials: getting and keeping tokens for a calling service,
//   - guard: verifying tokens and enforcing scopes in a called service,
//   - jwt: the one JWT verification implementation, used by guard, by the
//     server and by every verifier of client assertions, DPoP proofs and
//     other issuers' tokens,
//   - guard/grpcguard (a separate module): gRPC interceptors for guard.
//
// The root package exists for the module's dependency test.
package sdk
