package authorize

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// MethodS256 is the only PKCE method Permiso accepts (RFC 7636 §4.2);
// "plain" protects nothing against an attacker who sees the request.
const MethodS256 = "S256"

// checkChallenge applies the PKCE rules to an authorization request:
// required for public clients, optional for confidential ones, and always
// S256 with a well-formed challenge when present.
func checkChallenge(c *store.Client, challenge, method string) *authzError {
	if challenge == "" {
		if method != "" {
			return redirectErr(wire.ErrInvalidRequest, "code_challenge_method was sent without code_challenge")
		}
		if c.Type == wire.ClientTypePublic {
			return redirectErr(wire.ErrInvalidRequest, "PKCE is required for public clients: send code_challenge and code_challenge_method=S256")
		}
		return nil
	}
	// RFC 7636 §4.3 makes a missing method mean "plain", which is refused.
	if method != MethodS256 {
		return redirectErr(wire.ErrInvalidRequest, "code_challenge_method must be S256")
	}
	// BASE64URL(SHA256(verifier)) is always 43 characters.
	if len(challenge) != 43 || !unreserved(challenge) {
		return redirectErr(wire.ErrInvalidRequest, "code_challenge must be 43 characters of base64url (S256)")
	}
	return nil
}

// verifierMatches checks a code_verifier against an S256 challenge in
// constant time. The verifier must be 43–128 unreserved characters
// (RFC 7636 §4.1).
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 || !unreserved(verifier) {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// unreserved reports whether s uses only RFC 3986 unreserved characters.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}
