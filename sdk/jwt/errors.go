package jwt

import "fmt"

// ErrInvalid matches (with errors.Is) every error that says the token
// itself is unacceptable: each of the more precise errors below matches it
// too. An error that does not match ErrInvalid came from the [KeySet] (an
// issuer whose keys cannot be fetched, say) and says nothing about the token.
var ErrInvalid error = invalidError("jwt: invalid token")

// The reasons a token is refused. Each matches [ErrInvalid]. They are for
// logs and tests: answer every one of them the same way to the presenter.
var (
	// ErrMalformed: not a compact JWS within the size limit, bad base64url
	// or JSON, a crit or other unsupported header, or a JWE.
	ErrMalformed error = invalidError("jwt: malformed token")
	// ErrAlgorithm: alg is none, symmetric, unknown or not allowed.
	ErrAlgorithm error = invalidError("jwt: algorithm not allowed")
	// ErrType: the typ header is not one the verifier accepts.
	ErrType error = invalidError("jwt: wrong token type")
	// ErrUnknownKey: no key with the header's kid (or no usable header jwk).
	ErrUnknownKey error = invalidError("jwt: unknown key")
	// ErrKeyMismatch: the key cannot verify alg (wrong type, curve, size, or
	// bound to another alg or use).
	ErrKeyMismatch error = invalidError("jwt: key does not fit the algorithm")
	// ErrSignature: the signature does not verify.
	ErrSignature error = invalidError("jwt: bad signature")
	// ErrClaims: a required claim is missing, or iss or aud is not the
	// expected value.
	ErrClaims error = invalidError("jwt: unacceptable claims")
	// ErrExpired: exp has passed (beyond the leeway), or iat is older than
	// the verifier's MaxAge.
	ErrExpired error = invalidError("jwt: token expired")
	// ErrNotYetValid: nbf or iat is in the future (beyond the leeway).
	ErrNotYetValid error = invalidError("jwt: token not yet valid")
)

// invalidError is the type of the sentinels above; comparable, so errors.Is
// finds each by value, and each also matches ErrInvalid.
type invalidError string

func (e invalidError) Error() string { return string(e) }

func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// refuse wraps a sentinel with a detail meant for logs.
func refuse(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
