package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/api"
	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/console"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tenant"
	"github.com/permiso-auth/permiso/internal/web"
)

// AdminSetupLifetime is how long a tenant's first administrator has to
// choose a password with the setup token the operator hands over.
const AdminSetupLifetime = 72 * time.Hour

// tenantAdmin is the operators' tenant administration (api.Tenants),
// served only by the default tenant's API. It reads and changes tenant
// records and, to hand a tenant over, creates its first administrator; it
// never reads a tenant's content.
type tenantAdmin struct{ s *Server }

var _ api.Tenants = tenantAdmin{}

func (ta tenantAdmin) out(t store.Tenant) apitype.Tenant {
	return apitype.Tenant{Name: t.Name, DisplayName: t.DisplayName, IsActive: t.Active,
		Issuer: tenant.Issuer(ta.s.cfg.Issuer, t.Name), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func checkDisplayName(s string, problems *web.Fields) {
	if len(s) > 200 || !web.PlainText(s, false) {
		problems.Addf("display_name must be at most 200 characters of plain text")
	}
}

// lookup returns the live tenant named name; 404 for none, a tombstone or
// the default tenant (which operators do not administer here).
func (ta tenantAdmin) lookup(ctx context.Context, name string) (store.Tenant, error) {
	if tenant.ValidName(name) != nil {
		return store.Tenant{}, web.NotFound("Tenant")
	}
	t, err := ta.s.db.GetTenantByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && (t.Deleted() || t.ID == store.DefaultTenant) {
		return store.Tenant{}, web.NotFound("Tenant")
	}
	if err != nil {
		return store.Tenant{}, web.Unavailable(err)
	}
	return t, nil
}

func (ta tenantAdmin) Create(ctx context.Context, in apitype.TenantCreate) (apitype.Tenant, error) {
	var problems web.Fields
	if err := tenant.ValidName(in.Name); err != nil {
		problems.Addf("name: %s", err)
	}
	checkDisplayName(in.DisplayName, &problems)
	if err := problems.Err(); err != nil {
		return apitype.Tenant{}, err
	}
	t, err := ta.s.db.CreateTenant(ctx, store.Tenant{Name: in.Name, DisplayName: in.DisplayName, Active: true})
	if errors.Is(err, store.ErrConflict) {
		return apitype.Tenant{}, web.Conflict("A tenant named %s exists, or was deleted and its name is still reserved", in.Name)
	}
	if err != nil {
		return apitype.Tenant{}, web.Unavailable(err)
	}
	// Build its runtime now: its signing key is generated and its scopes,
	// roles and first-party clients seeded before anyone uses it.
	ta.s.tenants.forget(t.Name)
	if _, err := ta.s.tenants.get(ctx, t.Name); err != nil {
		return apitype.Tenant{}, web.Unavailable(err)
	}
	return ta.out(t), nil
}

func (ta tenantAdmin) List(ctx context.Context, f store.TenantFilter) ([]apitype.Tenant, int, error) {
	list, total, err := ta.s.db.ListTenants(ctx, f)
	if err != nil {
		return nil, 0, web.Unavailable(err)
	}
	out := make([]apitype.Tenant, 0, len(list))
	for _, t := range list {
		if t.ID == store.DefaultTenant {
			total--
			continue
		}
		out = append(out, ta.out(t))
	}
	return out, total, nil
}

func (ta tenantAdmin) Get(ctx context.Context, name string) (apitype.Tenant, error) {
	t, err := ta.lookup(ctx, name)
	if err != nil {
		return apitype.Tenant{}, err
	}
	return ta.out(t), nil
}

func (ta tenantAdmin) Update(ctx context.Context, name string, in apitype.TenantUpdate) (apitype.Tenant, error) {
	var problems web.Fields
	if in.DisplayName != nil {
		checkDisplayName(*in.DisplayName, &problems)
	}
	if err := problems.Err(); err != nil {
		return apitype.Tenant{}, err
	}
	old, err := ta.lookup(ctx, name)
	if err != nil {
		return apitype.Tenant{}, err
	}
	t, err := ta.s.db.UpdateTenant(ctx, old.ID, func(t store.Tenant) (store.Tenant, error) {
		if in.DisplayName != nil {
			t.DisplayName = *in.DisplayName
		}
		if in.IsActive != nil {
			if t.Active && !*in.IsActive {
				// Every token issued until now stays refused, even once
				// the tenant is enabled again.
				now := ta.s.cfg.Now()
				t.TokensValidAfter = &now
			}
			t.Active = *in.IsActive
		}
		return t, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return apitype.Tenant{}, web.NotFound("Tenant")
	}
	if err != nil {
		return apitype.Tenant{}, web.Unavailable(err)
	}
	if rt := ta.s.tenants.loaded(t.ID); rt != nil {
		rt.setRecord(t) // at once here; other replicas follow the change
	}
	if old.Active && !t.Active && t.TokensValidAfter != nil {
		// Resource servers that follow the feed learn it too.
		rt, err := ta.s.tenants.use(ctx, t.Name)
		if err != nil {
			return apitype.Tenant{}, web.Unavailable(err)
		}
		defer rt.leave()
		before := *t.TokensValidAfter
		if err := rt.revoked.RevokeIssuer(ctx, rt.info.Issuer, before, before.Add(max(ta.s.cfg.AccessTokenLifetime, maxTokenLifetime))); err != nil {
			return apitype.Tenant{}, web.Unavailable(err)
		}
	}
	return ta.out(t), nil
}

func (ta tenantAdmin) Delete(ctx context.Context, name string) error {
	t, err := ta.lookup(ctx, name)
	if err != nil {
		return err
	}
	now := ta.s.cfg.Now()
	if rt := ta.s.tenants.loaded(t.ID); rt != nil {
		rt.revoked.SetIssuedBefore(now)
	}
	// The name stays reserved, and the feed says every token is revoked,
	// until the last token the tenant could have issued has expired.
	purge := now.Add(max(ta.s.cfg.AccessTokenLifetime, maxTokenLifetime))
	if err := ta.s.db.DeleteTenantData(ctx, t.ID, now, purge); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return web.NotFound("Tenant")
		}
		return web.Unavailable(err)
	}
	ta.s.tenants.drop(t.Name)
	return nil
}

// maxTokenLifetime bounds any access token's lifetime (a client's own
// access_token_lifetime included), for the tombstone of a deleted tenant.
const maxTokenLifetime = 24 * time.Hour

func (ta tenantAdmin) AddAdmin(ctx context.Context, name string, in apitype.TenantAdminCreate) (apitype.TenantAdminSetup, error) {
	t, err := ta.lookup(ctx, name)
	if err != nil {
		return apitype.TenantAdminSetup{}, err
	}
	rt, err := ta.s.tenants.use(ctx, t.Name)
	if err != nil {
		return apitype.TenantAdminSetup{}, web.Unavailable(err)
	}
	defer rt.leave()
	role, err := rt.store.GetRoleByName(ctx, "admin")
	if err != nil {
		return apitype.TenantAdminSetup{}, web.Conflict("The tenant has no admin role; its administrators manage it")
	}
	admins, _, err := rt.st.ListUsers(ctx, store.UserFilter{RoleID: role.ID, Page: store.Page{Limit: 1000}})
	if err != nil {
		return apitype.TenantAdminSetup{}, web.Unavailable(err)
	}
	if slices.ContainsFunc(admins, func(u store.User) bool { return u.Superuser && account.HasPassword(&u) }) {
		return apitype.TenantAdminSetup{}, web.Conflict("The tenant has an administrator already; further administrators are its own business")
	}
	u, tok, exp, err := rt.accounts.CreatePendingAdmin(ctx, in.Username, in.Email, []string{role.ID}, AdminSetupLifetime,
		account.Meta{ActorType: "operator"})
	if err != nil {
		return apitype.TenantAdminSetup{}, err
	}
	return apitype.TenantAdminSetup{UserID: u.ID, Username: u.Username, SetupToken: tok, ExpiresAt: exp,
		Setup: "POST " + rt.info.Issuer + "/api/v1/users/password-reset/confirm"}, nil
}

// seedOperatorScope gives the default tenant the admin:tenants scope, and
// gives it to the admin role and the bootstrap client when it is new (an
// upgraded deployment gets it too; one where it was taken away keeps that).
func seedOperatorScope(ctx context.Context, st store.Store) error {
	if _, err := st.GetScopeByName(ctx, api.ScopeTenants); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("seed scope %s: %w", api.ScopeTenants, err)
	}
	sc, err := st.CreateScope(ctx, store.Scope{Name: api.ScopeTenants, Description: "Create, disable and delete tenants",
		Resource: rbac.Resource(api.ScopeTenants)})
	if errors.Is(err, store.ErrConflict) {
		return nil // another replica seeded it
	}
	if err != nil {
		return fmt.Errorf("seed scope %s: %w", api.ScopeTenants, err)
	}
	if role, err := st.GetRoleByName(ctx, "admin"); err == nil {
		if _, err := st.UpdateRole(ctx, role.ID, func(r store.Role) (store.Role, error) {
			r.ScopeIDs = append(r.ScopeIDs, sc.ID)
			return r, nil
		}); err != nil {
			return fmt.Errorf("seed scope %s: %w", api.ScopeTenants, err)
		}
	}
	// The console's client holds every scope, so that a signed-in
	// operator's token carries this one too.
	for _, id := range []string{BootstrapClientID, console.ClientID} {
		if _, err := st.UpdateClient(ctx, id, func(c store.Client) (store.Client, error) {
			c.ScopeIDs = append(c.ScopeIDs, sc.ID)
			return c, nil
		}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("seed scope %s: %w", api.ScopeTenants, err)
		}
	}
	return nil
}
