// Package metadata fetches an authorization server's metadata document (RFC
// 8414, with the OpenID Connect discovery document as a fallback) for the
// packages of the sdk module. It owns discovery only; callers cache the
// result.
package metadata
