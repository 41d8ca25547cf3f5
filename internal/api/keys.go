package api

import (
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

func (a *API) mountKeys(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/admin/keys", a.listKeys)
	a.handle(mux, "POST /api/v1/admin/keys/rotate", a.rotateKey)
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:system"); err != nil {
		return err
	}
	if err := a.cfg.Keys.Reload(r.Context()); err != nil {
		return web.Unavailable(err)
	}
	out := apitype.KeyList{Keys: []apitype.Key{}}
	for _, k := range a.cfg.Keys.Keys() {
		out.Keys = append(out.Keys, newKeyResponse(k))
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:system")
	if err != nil {
		return err
	}
	var body apitype.KeyRotation
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(w, r, &body); err != nil {
			return err
		}
	}
	var delay time.Duration
	if body.DelaySeconds != nil {
		if *body.DelaySeconds < 0 || *body.DelaySeconds > 7*86400 {
			return web.Invalid("delay_seconds must be between 0 and 604800")
		}
		// Zero means "now"; the manager treats a non-positive delay as its
		// default, so ask for the smallest positive one.
		delay = time.Duration(*body.DelaySeconds) * time.Second
		if delay == 0 {
			delay = time.Nanosecond
		}
	}
	kid, err := a.cfg.Keys.Rotate(r.Context(), delay)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := a.cfg.Keys.Tick(r.Context()); err != nil {
		return web.Unavailable(err)
	}
	a.record(r.Context(), a.event(r, c, "key.rotated", audit.Success, kid, nil))
	for _, k := range a.cfg.Keys.Keys() {
		if k.KID == kid {
			web.WriteJSON(w, http.StatusCreated, newKeyResponse(k))
			return nil
		}
	}
	return web.Unavailable(nil)
}

// newKeyResponse is the API form of k, without its private part.
func newKeyResponse(k store.SigningKey) apitype.Key {
	return apitype.Key{KID: k.KID, Alg: k.Alg, State: k.State, CreatedAt: k.CreatedAt, ActivatesAt: k.ActivatesAt,
		RetiresAt: k.RetiresAt, ExpiresAt: k.ExpiresAt}
}
