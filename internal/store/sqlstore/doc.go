// Package sqlstore implements store.Store once for two engines: SQLite
// (modernc.org/sqlite, pure Go, for the zero-setup single binary) and
// PostgreSQL (pgx, for replicas that share one database).
//
// Queries are written once with '?' placeholders and rebound to $n for
// PostgreSQL. The schema differs only where the engines do: times are
// INTEGER Unix microseconds on SQLite (so comparisons and ordering are
// numeric, not textual) and TIMESTAMPTZ on PostgreSQL; booleans are INTEGER
// on SQLite. Both keep list-valued fields as JSON text.
//
// Open connects; Migrate applies the embedded, versioned migrations. Writes
// that change cached data (clients, secrets, scopes, roles, keys,
// revocations, users) publish a store.Change in the same transaction:
// pg_notify on PostgreSQL, an in-process fan-out after commit on SQLite.
//
// Package sqltest provides fresh databases for other packages' tests.
package sqlstore
