package dpop

import "fmt"

// ErrInvalidProof matches (with errors.Is) every error that says the proof
// is unacceptable, which a server answers with invalid_dpop_proof (RFC 9449
// §5 at a token endpoint, §7.1 at a resource server). Each of the more
// precise errors below matches it too, except [ErrUseNonce]. An error that
// matches none of them came from the [Replay] (a shared store that cannot
// answer) and says nothing about the proof.
var ErrInvalidProof error = proofError("dpop: invalid proof")

// The reasons a proof is refused. Each matches [ErrInvalidProof]; they are
// for logs and tests.
var (
	// ErrMissing: the request has no DPoP header.
	ErrMissing error = proofError("dpop: no proof")
	// ErrMultiple: the request has more than one DPoP header (§4.3 step 1).
	ErrMultiple error = proofError("dpop: more than one proof")
	// ErrMalformed: not a well-formed proof JWT: its typ, alg, jwk,
	// signature, required claims or their types (steps 2 to 7).
	ErrMalformed error = proofError("dpop: malformed proof")
	// ErrMethod: htm is not the request's method (step 8).
	ErrMethod error = proofError("dpop: htm does not match the request")
	// ErrURI: htu is not the request's target URI (step 9).
	ErrURI error = proofError("dpop: htu does not match the request")
	// ErrTime: iat is outside the accepted window (step 11).
	ErrTime error = proofError("dpop: proof too old or from the future")
	// ErrTokenHash: ath is missing or is not the hash of the access token
	// presented with the proof (step 12).
	ErrTokenHash error = proofError("dpop: ath does not match the access token")
	// ErrKeyMismatch: the proof's key is not the key the token, code or
	// refresh token is bound to (step 12).
	ErrKeyMismatch error = proofError("dpop: proof key is not the bound key")
	// ErrReplayed: the proof's jti was used before within the window (§11.1).
	ErrReplayed error = proofError("dpop: proof replayed")
)

// ErrUseNonce says the server requires a nonce it issued and the proof has
// none, or one that is not (or no longer) valid (§8, §9). The server
// answers use_dpop_nonce with a fresh nonce in the DPoP-Nonce header, and
// the client retries with it. It does not match ErrInvalidProof.
var ErrUseNonce error = nonceError("dpop: the server's nonce is required")

type proofError string

func (e proofError) Error() string        { return string(e) }
func (e proofError) Is(target error) bool { return target == ErrInvalidProof }

type nonceError string

func (e nonceError) Error() string { return string(e) }

// refuse wraps a sentinel with a detail meant for logs.
func refuse(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
