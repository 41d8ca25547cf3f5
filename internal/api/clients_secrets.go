package api

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// maxSecretGrace bounds how long a rotated-out secret may keep working.
const maxSecretGrace = 30 * 24 * time.Hour

// rotateClientSecret issues a new secret and lets the previous ones work
// for a grace period, so a service can roll its secret without downtime.
// The original had no grace period and answered a wrong current secret
// with 500; here it is 400 invalid_secret.
func (a *API) rotateClientSecret(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
		return err
	}
	var body apitype.SecretRotation
	if err := decodeOptionalJSON(w, r, &body); err != nil {
		return err
	}
	grace := a.cfg.DefaultSecretGrace
	if s := body.GracePeriodSeconds; s != nil {
		if *s < 0 || *s > int64(maxSecretGrace/time.Second) {
			return web.Invalid("grace_period_seconds must be between 0 and %d (30 days)", int64(maxSecretGrace/time.Second))
		}
		grace = time.Duration(*s) * time.Second
	}
	if c.Type == wire.ClientTypePublic {
		return web.BadRequest("Public clients have no secret to rotate")
	}
	if !usesSecret(&c) {
		return web.BadRequest("This client authenticates with %s and has no secret; set its token_endpoint_auth_method to client_secret_basic first to give it one", c.TokenEndpointAuthMethod)
	}
	now := a.cfg.Now()
	previous, err := a.cfg.Store.ListClientSecrets(r.Context(), c.ID, now)
	if err != nil {
		return web.Unavailable(err)
	}
	if body.CurrentSecret != nil && !a.secretMatches(*body.CurrentSecret, previous) {
		a.record(r.Context(), a.event(r, caller, "client.secret_rotation_denied", audit.Denied, c.ClientID,
			map[string]any{"reason": "current_secret does not match"}))
		return web.Errorf(http.StatusBadRequest, "invalid_secret", "The current secret is not valid for this client")
	}
	secret, hash := a.cfg.Secrets.Generate()
	added, err := a.cfg.Store.AddClientSecret(r.Context(), store.ClientSecret{ClientID: c.ID, Hash: hash, CreatedAt: now})
	if err != nil {
		return storeErr(err, clientNotFound, "")
	}
	expires := now.Add(grace)
	if err := a.cfg.Store.ExpireClientSecrets(r.Context(), c.ID, added.ID, expires); err != nil {
		return web.Unavailable(err)
	}
	var prevExpires *time.Time
	if len(previous) > 0 {
		prevExpires = &expires
	}
	a.record(r.Context(), a.event(r, caller, "client.secret_rotated", audit.Success, c.ClientID, map[string]any{
		"grace_period_seconds": int64(grace / time.Second), "previous_secrets": len(previous)}))
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, apitype.SecretRotated{Message: "Client secret rotated successfully",
		ClientSecret: secret, PreviousSecretExpiresAt: prevExpires})
	return nil
}

// secretMatches checks secret against every live secret; it looks at all
// of them so the time taken does not say which one matched.
func (a *API) secretMatches(secret string, live []store.ClientSecret) bool {
	ok := false
	for _, s := range live {
		if a.cfg.Secrets.Match(secret, s.Hash) {
			ok = true
		}
	}
	return ok
}

// clientPermissions is the original's GET /{client_id}/permissions: the
// client's scopes, grouped as resource -> actions.
func (a *API) clientPermissions(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	resources := map[string][]string{}
	admin := false
	for _, s := range c.Scopes {
		admin = admin || strings.HasPrefix(s.Name, "admin:")
		res := s.Resource
		if res == "" {
			res = rbac.Resource(s.Name)
		}
		if res == "" {
			continue // a scope without ':' names no resource
		}
		if act := rbac.Action(s.Name); !slices.Contains(resources[res], act) {
			resources[res] = append(resources[res], act)
		}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"client_id": c.ClientID, "scopes": nonNil(c.ScopeNames()), "resources": resources, "can_access_admin": admin,
	})
	return nil
}

type clientRequests struct {
	ClientID string `json:"client_id"`
	Requests int64  `json:"requests"`
}

// clientStats is GET /stats/overview with real figures. total_requests
// counts tokens issued over each client's lifetime (the original's
// total_requests_today and most_active_clients were made up); counters are
// written in batches, so they may trail by a few seconds. The figures come
// from a summary the store keeps, so they cost the same at any number of
// clients.
func (a *API) clientStats(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	st, err := a.cfg.Store.ClientStats(r.Context(), 5)
	if err != nil {
		return web.Unavailable(err)
	}
	busiest := []clientRequests{}
	for _, u := range st.Busiest {
		busiest = append(busiest, clientRequests{u.ClientID, u.Requests})
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"total_clients": st.Total, "active_clients": st.Active, "trusted_clients": st.Trusted,
		"total_requests": st.Requests, "most_active_clients": busiest,
	})
	return nil
}
