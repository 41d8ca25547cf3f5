// Package replay remembers single-use values, such as the jti of a
// private_key_jwt client assertion or of a DPoP proof, until they expire,
// and refuses a value presented a second time. Every replica sees the same
// records: they live in the database (store.ReplayStore), or in Redis when
// a Redis URL is configured.
//
// Usage:
//
//	r, err := replay.New(replay.Config{Store: db, RedisURL: url, Logger: log})
//	go r.Run(ctx) // purges expired records, writes back records kept during an outage
//	err = r.Use(ctx, "private_key_jwt", clientID+" "+jti, claims.Expiry)
//	// nil: first use. replay.ErrReplayed: seen before and not expired.
//	// replay.ErrUnavailable: only with Config.Strict, while no shared record answers.
//
// A namespace separates callers (one per kind of value: "private_key_jwt",
// "dpop"), so equal ids of different kinds never collide. Only a SHA-256 of
// namespace and id is stored, so records reveal nothing and have a fixed size.
//
// Availability: the shared records are tried in order (Redis, then the
// database). When none answers, each replica keeps its own records in memory
// and logs once that it does so (a value could then be used once per
// replica); when a shared record answers again, the values kept meanwhile are
// written back. Config.Strict refuses instead. Every replica also remembers
// the values it has seen, so a value replayed to the same replica is refused
// without a round trip.
//
// A single process on SQLite (Config.SoleUser: one process owns the file)
// decides in memory and writes its records behind, once a second, so a
// restart still refuses what was recorded before it; for Config.Horizon
// after start it asks the database as usual, since a value recorded by the
// previous process may still be valid then.
//
// The package owns no policy: callers decide which values are single-use and
// until when (normally the JWT's exp plus the allowed clock skew).
package replay
