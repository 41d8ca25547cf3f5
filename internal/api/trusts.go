package api

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Trusts (workload identity federation) are served under /api/v1/trusts,
// addressed by name. Reading them and binding clients needs admin:clients;
// creating, changing and deleting a trust needs admin:system, since a
// trust decides whose tokens Permiso believes.
func (a *API) mountTrusts(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/trusts", a.listTrusts)
	a.handle(mux, "POST /api/v1/trusts", a.createTrust)
	a.handle(mux, "GET /api/v1/trusts/{name}", a.getTrust)
	a.handle(mux, "PUT /api/v1/trusts/{name}", a.updateTrust)
	a.handle(mux, "DELETE /api/v1/trusts/{name}", a.deleteTrust)
	a.handle(mux, "GET /api/v1/trusts/{name}/keys", a.trustKeys)
	a.handle(mux, "POST /api/v1/trusts/{name}/bindings", a.createBinding)
	a.handle(mux, "DELETE /api/v1/trusts/{name}/bindings/{id}", a.deleteBinding)
}

const trustNotFound = "Trust"

func (a *API) listTrusts(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	trusts, err := a.cfg.Store.ListTrusts(r.Context())
	if err != nil {
		return web.Unavailable(err)
	}
	bindings, err := a.cfg.Store.ListTrustBindings(r.Context(), store.TrustBindingFilter{})
	if err != nil {
		return web.Unavailable(err)
	}
	out := apitype.TrustList{Trusts: []apitype.Trust{}, Total: len(trusts)}
	for _, t := range trusts {
		var mine []store.TrustBinding
		for _, b := range bindings {
			if b.TrustID == t.ID {
				mine = append(mine, b)
			}
		}
		out.Trusts = append(out.Trusts, a.trustResponse(t, mine))
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// pathTrust loads the trust named by the {name} path value.
func (a *API) pathTrust(r *http.Request) (store.Trust, error) {
	name := r.PathValue("name")
	if !trustNamePattern.MatchString(name) {
		return store.Trust{}, web.NotFound(trustNotFound)
	}
	t, err := a.cfg.Store.GetTrust(r.Context(), name)
	if err != nil {
		return store.Trust{}, storeErr(err, trustNotFound, "")
	}
	return t, nil
}

func (a *API) getTrust(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	t, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	bindings, err := a.cfg.Store.ListTrustBindings(r.Context(), store.TrustBindingFilter{TrustID: t.ID})
	if err != nil {
		return web.Unavailable(err)
	}
	web.WriteJSON(w, http.StatusOK, a.trustResponse(t, bindings))
	return nil
}

func (a *API) createTrust(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:system")
	if err != nil {
		return err
	}
	var in apitype.TrustFields
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var problems web.Fields
	if in.Name == nil {
		problems.Addf("name is required")
	}
	if in.KeySource == nil {
		problems.Addf("key_source is required: %s", strings.Join(keySources, ", "))
	}
	t := store.Trust{Active: true, MaxTokenAge: defaultTokenAge * time.Second}
	applyTrust(in, &t, &problems)
	if in.KeySource != nil {
		a.checkTrust(in, &t, &problems)
	}
	if err := problems.Err(); err != nil {
		return err
	}
	t, err = a.cfg.Store.CreateTrust(r.Context(), t)
	if err != nil {
		return storeErr(err, trustNotFound, "A trust with this name, issuer or trust domain already exists")
	}
	a.reloadTrusts(r)
	a.record(r.Context(), a.event(r, caller, "trust.created", audit.Success, t.Name, map[string]any{
		"issuer": t.Issuer, "key_source": t.KeySource, "trust_domain": t.TrustDomain, "audience": t.Audience,
		"max_token_age": int(t.MaxTokenAge / time.Second)}))
	web.WriteJSON(w, http.StatusCreated, a.trustResponse(t, nil))
	return nil
}

func (a *API) updateTrust(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:system")
	if err != nil {
		return err
	}
	current, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	var in apitype.TrustFields
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	// A trust's change acts on every client bound to it: the delegation
	// rule asks that the caller hold what each of them holds.
	if err := a.mayActOnBound(r, caller, current.ID); err != nil {
		return err
	}
	var problems web.Fields
	probe := current
	applyTrust(in, &probe, &problems)
	a.checkTrust(in, &probe, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	t, err := a.cfg.Store.UpdateTrust(r.Context(), current.Name, func(old store.Trust) (store.Trust, error) {
		var p web.Fields
		applyTrust(in, &old, &p)
		a.checkTrust(in, &old, &p)
		return old, p.Err()
	})
	if err != nil {
		if _, ok := web.AsError(err); ok {
			return err
		}
		return storeErr(err, trustNotFound, "A trust with this name, issuer or trust domain already exists")
	}
	a.reloadTrusts(r)
	bindings, err := a.cfg.Store.ListTrustBindings(r.Context(), store.TrustBindingFilter{TrustID: t.ID})
	if err != nil {
		return web.Unavailable(err)
	}
	a.record(r.Context(), a.event(r, caller, "trust.updated", audit.Success, t.Name, map[string]any{
		"fields": trustFieldNames(in), "is_active": t.Active, "issuer": t.Issuer, "key_source": t.KeySource}))
	web.WriteJSON(w, http.StatusOK, a.trustResponse(t, bindings))
	return nil
}

// trustFieldNames names the fields a change set, for the audit log.
func trustFieldNames(f apitype.TrustFields) []string {
	var out []string
	for name, set := range map[string]bool{"name": f.Name != nil, "description": f.Description != nil, "issuer": f.Issuer != nil,
		"key_source": f.KeySource != nil, "jwks_uri": f.JWKSURI != nil, "jwks": f.JWKS != nil, "trust_domain": f.TrustDomain != nil,
		"spiffe_bundle_endpoint": f.SPIFFEBundleEndpoint != nil, "spiffe_bundle": f.SPIFFEBundle != nil,
		"audience": f.Audience != nil, "max_token_age": f.MaxTokenAge != nil, "is_active": f.IsActive != nil} {
		if set {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (a *API) deleteTrust(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:system")
	if err != nil {
		return err
	}
	t, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.DeleteTrust(r.Context(), t.Name); err != nil {
		return storeErr(err, trustNotFound, "Clients are bound to this trust; delete their bindings first")
	}
	a.reloadTrusts(r)
	a.record(r.Context(), a.event(r, caller, "trust.deleted", audit.Success, t.Name, map[string]any{"issuer": t.Issuer}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// trustKeys fetches the trust's keys now and lists their ids, so an
// operator sees at once whether Permiso can reach them.
func (a *API) trustKeys(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	t, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	out := apitype.TrustKeys{Trust: t.Name, KeyIDs: []string{}}
	if a.cfg.Federation == nil {
		out.Error = "this server has no federation"
	} else if kids, err := a.cfg.Federation.KeyIDs(r.Context(), t); err != nil {
		out.Error = err.Error()
	} else {
		out.KeyIDs = kids
	}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createBinding(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	t, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	var in apitype.TrustBindingFields
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var problems web.Fields
	in.Subject = strings.TrimSpace(in.Subject)
	switch {
	case in.Subject == "":
		problems.Addf("subject is required: the sub of the workload's tokens (for Kubernetes system:serviceaccount:NAMESPACE:NAME)")
	case utf8.RuneCountInString(in.Subject) > 512 || !web.PlainText(in.Subject, false):
		problems.Addf("subject must be at most 512 characters of plain text")
	case t.KeySource == store.KeySourceSPIFFE:
		if err := federation.CheckSPIFFESubject(in.Subject, t.TrustDomain); err != nil {
			problems.Addf("subject: %v", err)
		}
	case strings.HasSuffix(in.Subject, "/*"):
		problems.Addf("subject: a /* prefix applies to SPIFFE trusts only; bind the exact sub")
	}
	if err := federation.CheckConditions(in.Conditions); err != nil {
		problems.Addf("conditions: %v", err)
	}
	if in.ClientID == "" {
		problems.Addf("client_id is required")
	}
	if err := problems.Err(); err != nil {
		return err
	}
	c, err := a.cfg.Store.GetClient(r.Context(), in.ClientID)
	if err != nil {
		return storeErr(err, clientNotFound, "")
	}
	want := []string{wire.AuthFederatedJWT}
	if t.KeySource == store.KeySourceSPIFFE {
		want = append(want, wire.AuthSPIFFEJWT)
	}
	// Whoever binds an identity to a client lets it act as the client.
	if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
		return err
	}
	if !slices.Contains(want, c.TokenEndpointAuthMethod) {
		return web.Invalid("The client %s authenticates with %s; set its token_endpoint_auth_method to %s first",
			web.QuoteList([]string{c.ClientID}, 1), registeredOrDefault(c), strings.Join(want, " or "))
	}
	b, err := a.cfg.Store.CreateTrustBinding(r.Context(), store.TrustBinding{TrustID: t.ID, ClientID: c.ID,
		Subject: in.Subject, Conditions: in.Conditions})
	if err != nil {
		return storeErr(err, clientNotFound, "This subject of the trust is bound to a client already")
	}
	a.reloadTrusts(r)
	a.record(r.Context(), a.event(r, caller, "trust.binding_created", audit.Success, c.ClientID, map[string]any{
		"trust": t.Name, "subject": b.Subject, "conditions": b.Conditions}))
	web.WriteJSON(w, http.StatusCreated, bindingResponse(t.Name, b))
	return nil
}

func registeredOrDefault(c store.Client) string {
	if c.TokenEndpointAuthMethod == "" {
		return wire.AuthClientSecretBasic
	}
	return c.TokenEndpointAuthMethod
}

func (a *API) deleteBinding(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	t, err := a.pathTrust(r)
	if err != nil {
		return err
	}
	bindings, err := a.cfg.Store.ListTrustBindings(r.Context(), store.TrustBindingFilter{TrustID: t.ID})
	if err != nil {
		return web.Unavailable(err)
	}
	i := slices.IndexFunc(bindings, func(b store.TrustBinding) bool { return b.ID == r.PathValue("id") })
	if i < 0 {
		return web.NotFound("Binding")
	}
	b := bindings[i]
	c, err := a.cfg.Store.GetClient(r.Context(), b.ClientName)
	if err != nil {
		return storeErr(err, clientNotFound, "")
	}
	if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
		return err
	}
	if err := a.cfg.Store.DeleteTrustBinding(r.Context(), b.ID); err != nil {
		return storeErr(err, "Binding", "")
	}
	a.reloadTrusts(r)
	a.record(r.Context(), a.event(r, caller, "trust.binding_deleted", audit.Success, b.ClientName, map[string]any{
		"trust": t.Name, "subject": b.Subject}))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// reloadTrusts makes this replica see a trust change at once.
func (a *API) reloadTrusts(r *http.Request) {
	if a.cfg.Federation == nil {
		return
	}
	if err := a.cfg.Federation.Reload(r.Context()); err != nil {
		a.cfg.Logger.WarnContext(r.Context(), "reload trusts", "err", err)
	}
}

// mayActOnBound applies the delegation rule to every client bound to a trust.
func (a *API) mayActOnBound(r *http.Request, caller *wire.Claims, trustID string) error {
	bindings, err := a.cfg.Store.ListTrustBindings(r.Context(), store.TrustBindingFilter{TrustID: trustID})
	if err != nil {
		return web.Unavailable(err)
	}
	seen := map[string]bool{}
	for _, b := range bindings {
		if seen[b.ClientName] {
			continue
		}
		seen[b.ClientName] = true
		c, err := a.cfg.Store.GetClient(r.Context(), b.ClientName)
		if err != nil {
			return storeErr(err, clientNotFound, "")
		}
		if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
			return err
		}
	}
	return nil
}
