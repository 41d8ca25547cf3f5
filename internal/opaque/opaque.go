// Package opaque makes the random opaque tokens Permiso hands out (refresh
// tokens, authorization codes, password-reset and email-verification
// tokens) and the hashes under which they are stored. It is a leaf: the
// domain packages that issue such tokens (account, tokens, oauth) share it
// without importing one another.
package opaque

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// New returns a random 256-bit token with the prefix, and the SHA-256 hash
// under which it is stored. High entropy makes a fast hash safe here: there
// is nothing to brute-force. The prefix makes a leaked token recognisable
// to scanners and to us.
func New(prefix string) (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, Hash(token)
}

// Hash returns the lookup hash of a token.
func Hash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
