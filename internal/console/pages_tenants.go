package console

import (
	"net/http"
	"net/url"

	"github.com/permiso-auth/permiso/internal/apitype"
)

const tenantsAPI = "/api/v1/tenants"

// tenantsPage is the operators' page (admin:tenants, default tenant only).
func (c *Console) tenantsPage(w http.ResponseWriter, r *http.Request, sess *session) error {
	var out apitype.TenantList
	if err := c.getJSON(r, sess, tenantsAPI+"?per_page=100", &out); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "tenants", sess, out)
	return nil
}

func (c *Console) tenantCreate(r *http.Request, sess *session) (string, *flash, error) {
	body := apitype.TenantCreate{Name: r.PostFormValue("name"), DisplayName: r.PostFormValue("display_name")}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: tenantsAPI, JSON: body})
	if err != nil {
		return Path + "/tenants", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/tenants", nil, err
	}
	var t apitype.Tenant
	_ = res.Decode(&t)
	return Path + "/tenants", &flash{Kind: "ok", Message: "Tenant " + t.Name + " created; its issuer is " + t.Issuer + "."}, nil
}

func (c *Console) tenantStatus(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	active := r.PostFormValue("active") == "1"
	if err := c.send(r, sess, http.MethodPut, tenantsAPI+"/"+url.PathEscape(name), apitype.TenantUpdate{IsActive: &active}); err != nil {
		return Path + "/tenants", nil, err
	}
	msg := "Tenant " + name + " disabled: its tokens and logins are refused."
	if active {
		msg = "Tenant " + name + " enabled."
	}
	return Path + "/tenants", &flash{Kind: "ok", Message: msg}, nil
}

func (c *Console) tenantDelete(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	if r.PostFormValue("confirm") != "1" {
		return Path + "/tenants", &flash{Kind: "error", Message: "Tick the box to confirm the deletion of " + name + "."}, nil
	}
	if err := c.send(r, sess, http.MethodDelete, tenantsAPI+"/"+url.PathEscape(name), nil); err != nil {
		return Path + "/tenants", nil, err
	}
	return Path + "/tenants", &flash{Kind: "ok", Message: "Tenant " + name + " deleted; every token it issued is revoked."}, nil
}

func (c *Console) tenantAddAdmin(r *http.Request, sess *session) (string, *flash, error) {
	name := r.PathValue("name")
	body := apitype.TenantAdminCreate{Username: r.PostFormValue("username"), Email: r.PostFormValue("email")}
	res, err := c.api(r, sess, call{Method: http.MethodPost, Path: tenantsAPI + "/" + url.PathEscape(name) + "/administrators", JSON: body})
	if err != nil {
		return Path + "/tenants", nil, err
	}
	if err := res.Err(); err != nil {
		return Path + "/tenants", nil, err
	}
	var out apitype.TenantAdminSetup
	_ = res.Decode(&out)
	return Path + "/tenants", &flash{Kind: "ok",
		Message: "Administrator " + out.Username + " of " + name + " created. Hand them the setup token; they choose their password with it (" +
			out.Setup + ") before " + out.ExpiresAt.UTC().Format("2006-01-02 15:04 MST") + ".",
		Secret: out.SetupToken, Label: "Setup token of " + out.Username + " (" + name + ")"}, nil
}
