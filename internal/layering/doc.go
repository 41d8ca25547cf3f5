// Package layering holds no code: its test checks that imports point the
// way docs/architecture.md draws them (leaves → store → domain packages →
// tokens → oauth → api → server → cmd/permiso), so a shortcut across the
// layers fails CI instead of waiting for a review. It also checks that no
// Go file outside sdk/jwt verifies a signature or parses a JWS by hand (the
// benchmark's baselines excepted), so the one verifier stays the only one.
package layering
