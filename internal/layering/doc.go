// Package layering holds no code: its test checks that imports point the
// way docs/architecture.md draws them (leaves → store → domain packages →
// tokens → oauth → api → server → cmd/permiso), so a shortcut across the
// layers fails CI instead of waiting for a review.
package layering
