package sqlstore

import (
	"context"
	"database/sql"
)

// MigrateTo applies the migrations up to version upTo, for tests that
// write rows the way an older Permiso did.
func (db *DB) MigrateTo(ctx context.Context, upTo int) error { return db.migrateTo(ctx, upTo) }

// ExecRaw runs q on the pool, unscoped, for tests of the schema itself.
func (db *DB) ExecRaw(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return db.exec(ctx, q, args...)
}

// QueryRowRaw is ExecRaw for a query returning one row.
func (db *DB) QueryRowRaw(ctx context.Context, q string, args ...any) *sql.Row {
	return db.queryRow(ctx, q, args...)
}
