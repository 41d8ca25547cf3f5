// Package sdk is the root of the Permiso Go SDK module. It holds no code of
// its own; the SDK is in its sub-packages:
//
//   - wire: the protocol vocabulary shared with the server,
//   - clientcredentials: getting and keeping tokens for a calling service,
//   - guard: verifying tokens and enforcing scopes in a called service,
//   - guard/grpcguard (a separate module): gRPC interceptors for guard.
//
// The root package exists for the module's dependency test.
package sdk
