// Package keys owns Permiso's token-signing keys: generation (ES256 by
// default, EdDSA and RS256 selectable), encryption of private keys at rest
// with the master key, the rotation schedule (publish first, sign later,
// keep retired keys published until their last token expires), the JWKS
// document, and the in-memory [Signer] used on the token endpoint's hot
// path. Every replica holds the same keys in memory and reloads them when
// the store announces a change.
package keys
