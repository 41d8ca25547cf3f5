package store

// IsID reports whether s has the textual form of a UUID, the form of every
// id the store assigns. Callers that accept "an id or a name" look a value
// up by id only when it has this form, so a name never reaches an id
// column and malformed ids are simply not found.
func IsID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
