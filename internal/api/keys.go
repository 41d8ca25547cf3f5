package api

import (
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/web"
)

func (a *API) mountKeys(mux *http.ServeMux) {
	a.handle(mux, "GET /api/v1/admin/keys", a.listKeys)
	a.handle(mux, "POST /api/v1/admin/keys/rotate", a.rotateKey)
}

type keyResponse struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiresAt   *time.Time `json:"retires_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:system"); err != nil {
		return err
	}
	if err := a.cfg.Keys.Reload(r.Context()); err != nil {
		return web.Unavailable(err)
	}
	out := []keyResponse{}
	for _, k := range a.cfg.Keys.Keys() {
		out = append(out, keyResponse{k.KID, k.Alg, k.State, k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt})
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
	return nil
}

func (a *API) rotateKey(w http.ResponseWriter, r *http.Request) error {
	c, err := a.requireScope(r, "admin:system")
	if err != nil {
		return err
	}
	var body struct {
		DelaySeconds *int64 `json:"delay_seconds"`
	}
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
			web.WriteJSON(w, http.StatusCreated, keyResponse{k.KID, k.Alg, k.State, k.CreatedAt, k.ActivatesAt, k.RetiresAt, k.ExpiresAt})
			return nil
		}
	}
	return web.Unavailable(nil)
}
