package api

import (
	"context"
	"net/http"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// ScopeTenants is the operators' scope: it creates, lists, disables,
// enables and deletes tenants and creates a tenant's first administrator,
// and nothing else. It exists only in the default tenant.
const ScopeTenants = "admin:tenants"

// Tenants administers tenants. Its errors are *web.Error for what the
// caller got wrong (unknown tenant, name taken, bad name).
type Tenants interface {
	Create(ctx context.Context, in apitype.TenantCreate) (apitype.Tenant, error)
	List(ctx context.Context, f store.TenantFilter) ([]apitype.Tenant, int, error)
	Get(ctx context.Context, name string) (apitype.Tenant, error)
	Update(ctx context.Context, name string, in apitype.TenantUpdate) (apitype.Tenant, error)
	// Delete revokes every token the tenant issued and removes its data.
	Delete(ctx context.Context, name string) error
	// AddAdmin creates an administrator of the tenant with a setup token,
	// while the tenant has no superuser who has set a password.
	AddAdmin(ctx context.Context, name string, in apitype.TenantAdminCreate) (apitype.TenantAdminSetup, error)
}

func (a *API) mountTenants(mux *http.ServeMux) {
	a.handle(mux, "POST /api/v1/tenants", a.createTenant)
	a.handle(mux, "GET /api/v1/tenants", a.listTenants)
	a.handle(mux, "GET /api/v1/tenants/{name}", a.getTenant)
	a.handle(mux, "PUT /api/v1/tenants/{name}", a.updateTenant)
	a.handle(mux, "DELETE /api/v1/tenants/{name}", a.deleteTenant)
	a.handle(mux, "POST /api/v1/tenants/{name}/administrators", a.addTenantAdmin)
}

// tenantRequest authorises an operator's request about one tenant and
// returns the caller and the {name} path value.
func (a *API) tenantRequest(r *http.Request) (*wire.Claims, string, error) {
	c, err := a.requireScope(r, ScopeTenants)
	if err != nil {
		return nil, "", err
	}
	name, err := tenantName(r)
	if err != nil {
		return nil, "", err
	}
	return c, name, nil
}

// recordFailure audits a refused tenant change with its error code (never
// its text).
func (a *API) recordFailure(r *http.Request, c *wire.Claims, typ, target string, err error) {
	a.record(r.Context(), a.event(r, c, typ, audit.Failure, target, map[string]any{"error": errCode(err)}))
}

// tenantName reads the {name} path value, bounded.
func tenantName(r *http.Request) (string, error) {
	n := r.PathValue("name")
	if n == "" || len(n) > 63 {
		return "", web.NotFound("Tenant")
	}
	return n, nil
}

func (a *API) createTenant(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, ScopeTenants)
	if err != nil {
		return err
	}
	var in apitype.TenantCreate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	t, err := a.cfg.Tenants.Create(r.Context(), in)
	if err != nil {
		a.recordFailure(r, c, "tenant.created", in.Name, err)
		return err
	}
	a.record(r.Context(), a.event(r, c, "tenant.created", audit.Success, t.Name, map[string]any{"display_name": t.DisplayName}))
	w.Header().Set("Location", "/api/v1/tenants/"+t.Name)
	web.WriteJSON(w, http.StatusCreated, t)
	return nil
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, ScopeTenants); err != nil {
		return err
	}
	var problems web.Fields
	q := r.URL.Query()
	p := parseListPaging(q, &problems)
	f := store.TenantFilter{Page: p.store(), Search: searchParam(q, &problems)}
	switch q.Get("is_active") {
	case "":
	case "true", "false":
		active := q.Get("is_active") == "true"
		f.Active = &active
	default:
		problems.Addf("is_active must be true or false")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	list, total, err := a.cfg.Tenants.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []apitype.Tenant{}
	}
	web.WriteJSON(w, http.StatusOK, apitype.TenantList{Paging: p.page(total), Tenants: list})
	return nil
}

func (a *API) getTenant(w http.ResponseWriter, r *http.Request) error {
	_, name, err := a.tenantRequest(r)
	if err != nil {
		return err
	}
	t, err := a.cfg.Tenants.Get(r.Context(), name)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) updateTenant(w http.ResponseWriter, r *http.Request) error {
	c, name, err := a.tenantRequest(r)
	if err != nil {
		return err
	}
	var in apitype.TenantUpdate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	typ := "tenant.updated"
	switch {
	case in.IsActive != nil && !*in.IsActive:
		typ = "tenant.disabled"
	case in.IsActive != nil && *in.IsActive:
		typ = "tenant.enabled"
	}
	t, err := a.cfg.Tenants.Update(r.Context(), name, in)
	if err != nil {
		a.recordFailure(r, c, typ, name, err)
		return err
	}
	details := map[string]any{}
	if in.IsActive != nil {
		details["is_active"] = *in.IsActive
	}
	if in.DisplayName != nil {
		details["display_name"] = *in.DisplayName
	}
	a.record(r.Context(), a.event(r, c, typ, audit.Success, t.Name, details))
	web.WriteJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) deleteTenant(w http.ResponseWriter, r *http.Request) error {
	c, name, err := a.tenantRequest(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Tenants.Delete(r.Context(), name); err != nil {
		a.recordFailure(r, c, "tenant.deleted", name, err)
		return err
	}
	a.record(r.Context(), a.event(r, c, "tenant.deleted", audit.Success, name, nil))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) addTenantAdmin(w http.ResponseWriter, r *http.Request) error {
	c, name, err := a.tenantRequest(r)
	if err != nil {
		return err
	}
	var in apitype.TenantAdminCreate
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	out, err := a.cfg.Tenants.AddAdmin(r.Context(), name, in)
	if err != nil {
		a.recordFailure(r, c, "tenant.admin_created", name, err)
		return err
	}
	// The setup token is the administrator's secret: never in the log.
	a.record(r.Context(), a.event(r, c, "tenant.admin_created", audit.Success, name,
		map[string]any{"user_id": out.UserID, "username": out.Username}))
	web.WriteJSON(w, http.StatusCreated, out)
	return nil
}

// errCode is the error code of err for the audit log: never its text.
func errCode(err error) string {
	if e, ok := web.AsError(err); ok {
		return e.Code
	}
	return "server_error"
}
