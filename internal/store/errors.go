package store

import "errors"

// Sentinel outcomes. Check them with errors.Is; implementations wrap them.
var (
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule would be broken, or a row is still
	// referenced (deleting a role that users hold).
	ErrConflict = errors.New("conflict")
	// ErrAlreadyUsed means a single-use item (refresh token, authorization
	// code, password-reset token) was consumed before.
	ErrAlreadyUsed = errors.New("already used")
)
