package wire

// The revocation feed: what an issuer publishes at its
// revocation_list_endpoint so that resource servers refuse revoked tokens
// without a network call per request. docs/revocation-feed.md is the
// specification; these types are its JSON.

// Feed answer types.
const (
	// FeedSnapshot answers hold part of the whole list as of Cursor; the
	// consumer collects every page (following Next) and then replaces what
	// it held with their union.
	FeedSnapshot = "snapshot"
	// FeedDelta answers hold entries added after the requested cursor; the
	// consumer adds them and moves to Cursor.
	FeedDelta = "delta"
)

// Entry kinds. A consumer that meets a kind it does not know keeps the
// entry out of its decisions and reports it (see the specification).
const (
	// RevokeJTI revokes the one token whose jti claim equals Value.
	RevokeJTI = "jti"
	// RevokeSession revokes every token whose sid claim equals Value.
	RevokeSession = "sid"
	// RevokeRoot revokes every token whose root_jti claim equals Value:
	// every token derived by token exchange from the token with that jti,
	// however many exchanges ago.
	RevokeRoot = "root_jti"
	// RevokeIssuer revokes every token whose iss claim equals Value and
	// whose iat is before Before: those of a tenant that was disabled or
	// deleted.
	RevokeIssuer = "iss"
)

// RevocationFeed is one answer (one page) of the revocation feed.
type RevocationFeed struct {
	// Type is FeedSnapshot or FeedDelta.
	Type string `json:"type"`
	// Cursor is opaque. After applying this answer (for a snapshot: every
	// page of it), poll with ?since=Cursor.
	Cursor string `json:"cursor"`
	// Entries are the revocations of this page.
	Entries []RevocationEntry `json:"entries"`
	// Next, when set, is the absolute URL of the next page of this answer;
	// fetch it before polling again.
	Next string `json:"next,omitempty"`
}

// RevocationEntry is one revocation.
type RevocationEntry struct {
	// Kind says which tokens Value names: RevokeJTI, RevokeSession,
	// RevokeRoot, or a later kind.
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// Exp (Unix seconds) is when every token the entry covers has expired;
	// the entry can be forgotten then.
	Exp int64 `json:"exp"`
	// Before (Unix seconds) is set on RevokeIssuer entries: tokens issued
	// before it are revoked.
	Before int64 `json:"before,omitempty"`
}
