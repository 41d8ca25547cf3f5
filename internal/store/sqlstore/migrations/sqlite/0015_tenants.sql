-- Tenants (issue 18): isolated organisations, each an issuer of its own.
-- Every row that existed belongs to the default tenant.
--
-- SQLite cannot change a table's constraints in place, so after this file
-- the migration rebuilds every tenant table in Go (tenantTablesSQLite in
-- migrate_tenants.go): a new table with tenant_id, per-tenant uniqueness
-- and composite foreign keys (tenant_id, id), every column the old table
-- had (including those other migrations added), the rows copied into the
-- default tenant, then the old table replaced. Foreign keys are off while
-- it runs and checked before it commits.
-- sqlite:foreign_keys=off

CREATE TABLE tenants (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL DEFAULT '',
    is_active          INTEGER NOT NULL DEFAULT 1,
    tokens_valid_after INTEGER,
    deleted_at         INTEGER,
    purge_after        INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
INSERT INTO tenants (id, name, display_name, created_at, updated_at)
VALUES ('default', 'default', 'Default tenant',
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER),
        CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));
