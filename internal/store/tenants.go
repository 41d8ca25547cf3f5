package store

import (
	"context"
	"time"
)

// DefaultTenant is the id of the default tenant: the one a single-tenant
// deployment has, served at the root of the base URL. Every row that
// existed before tenants belongs to it.
const DefaultTenant = "default"

// Tenant is an isolated organisation with an issuer of its own. Its data
// is reached only through [Root.Tenant] with its ID.
type Tenant struct {
	// ID is internal and never reused; DefaultTenant for the default
	// tenant, a UUID for the others.
	ID string
	// Name is the tenant's URL segment (/t/{name}), unique among tenants
	// that exist or are still tombstones; fixed once created.
	Name        string
	DisplayName string
	// Active is false while the tenant is disabled: it refuses its tokens
	// and logins.
	Active bool
	// TokensValidAfter, when set, refuses every token the tenant issued
	// before it (it is set when the tenant is disabled, and stays).
	TokensValidAfter *time.Time
	// DeletedAt is set once the tenant is deleted: its data is gone and
	// the row is a tombstone that keeps the name reserved, and tells
	// resource servers that every token it issued is revoked, until
	// PurgeAfter.
	DeletedAt  *time.Time
	PurgeAfter *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Deleted reports whether t is a tombstone.
func (t *Tenant) Deleted() bool { return t.DeletedAt != nil }

// TenantFilter narrows ListTenants. Tombstones are left out.
type TenantFilter struct {
	Page
	Search string // name or display name, case-insensitive
	Active *bool
}

// TenantStore administers tenants. It never reads or writes what a tenant
// holds: that takes the tenant's own handle, [Root.Tenant].
type TenantStore interface {
	// CreateTenant inserts a tenant; ErrConflict when the name is taken
	// (by a tenant or a tombstone).
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	GetTenant(ctx context.Context, id string) (Tenant, error)               // tombstones too
	GetTenantByName(ctx context.Context, name string) (Tenant, error)       // tombstones too
	ListTenants(ctx context.Context, f TenantFilter) ([]Tenant, int, error) // by name
	// UpdateTenant applies fn in a transaction; ID, Name and CreatedAt
	// cannot change.
	UpdateTenant(ctx context.Context, id string, fn func(Tenant) (Tenant, error)) (Tenant, error)
	// DeleteTenantData removes every row the tenant holds, in every table,
	// and marks the tenant deleted at at with the tombstone kept until
	// purgeAfter. The default tenant cannot be deleted.
	DeleteTenantData(ctx context.Context, id string, at, purgeAfter time.Time) error
	// PurgeTenants removes the tombstones whose PurgeAfter has passed,
	// freeing their names; it returns how many.
	PurgeTenants(ctx context.Context, now time.Time) (int, error)
}

// Root is the database as a whole: tenant administration, and a [Store]
// per tenant. Nothing reads or writes a tenant's data except through the
// handle Tenant returns, whose every query is scoped to that tenant.
type Root interface {
	TenantStore
	// Tenant returns the store of the tenant id. It does not check that the
	// tenant exists: the edge resolves the tenant before anything uses it,
	// and the schema refuses rows of an unknown tenant.
	Tenant(id string) Store
	// PurgeExpired deletes, across every tenant, rows that expired before
	// now (revocations, replay records) and audit events older than
	// auditBefore (zero: keep them). It reads nothing out.
	PurgeExpired(ctx context.Context, now, auditBefore time.Time) (int, error)
	// Lock, Publish and Subscribe are those of [Store] for the whole
	// database: Subscribe delivers the changes of every tenant, each
	// naming its tenant (a change with an empty Tenant concerns all).
	Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error
	Publish(ctx context.Context, c Change) error
	Subscribe(ctx context.Context, fn func(Change)) error
	Ping(ctx context.Context) error
	Close() error
}
