package wire

import "fmt"

// Error codes from RFC 6749 §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1 and RFC 8707,
// plus the codes of the original Permiso /api/v1 that clients depend on.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrInvalidScope            = "invalid_scope"
	ErrInvalidTarget           = "invalid_target"
	ErrAccessDenied            = "access_denied"
	ErrUnsupportedTokenType    = "unsupported_token_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrInvalidToken            = "invalid_token"
	ErrInsufficientScope       = "insufficient_scope"
	// RFC 9449 §5 and §7.1: the DPoP proof is missing, malformed, replayed
	// or does not fit the request; and the server wants a nonce in it (§8, §9).
	ErrInvalidDPoPProof = "invalid_dpop_proof"
	ErrUseDPoPNonce     = "use_dpop_nonce"

	// Original Permiso codes.
	ErrRateLimitExceeded = "rate_limit_exceeded"
	ErrAccountLocked     = "account_locked"
	ErrAccountDisabled   = "account_disabled"
	ErrClientDisabled    = "client_disabled"
	ErrNotFound          = "not_found"
	ErrConflict          = "conflict"
	ErrValidation        = "validation_error"
	ErrForbidden         = "forbidden"
	// A route that exists, asked with a method it does not serve (405 with
	// Allow).
	ErrMethodNotAllowed = "method_not_allowed"
)

// Error is the JSON error body of RFC 6749 §5.2, also used by every Permiso
// endpoint. Status is the HTTP status it travelled with; it is not encoded.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	URI         string `json:"error_uri,omitempty"`
	Status      int    `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return fmt.Sprintf("oauth2: %s (HTTP %d)", e.Code, e.Status)
	}
	return fmt.Sprintf("oauth2: %s: %s (HTTP %d)", e.Code, e.Description, e.Status)
}
