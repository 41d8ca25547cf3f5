package server

import (
	"context"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/web"
)

func (s *Server) mountHealth(mux *http.ServeMux) {
	// The original's shape; it now also says whether the database answers.
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		status, code := "healthy", http.StatusOK
		if s.ping(r.Context()) != nil {
			status, code = "unhealthy", http.StatusServiceUnavailable
		}
		web.WriteJSON(w, code, map[string]string{"status": status, "service": "permiso-auth",
			"version": s.cfg.Version, "environment": s.cfg.Environment})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		checks := map[string]string{"database": "ok"}
		code := http.StatusOK
		if err := s.ping(r.Context()); err != nil {
			checks["database"], code = "unreachable", http.StatusServiceUnavailable
			// Tokens for known clients are still issued: say until when.
			if loaded := s.store.LastLoaded(); !loaded.IsZero() && s.cfg.StaleIfError > 0 {
				checks["cache"] = "serving known clients from memory until " +
					loaded.Add(s.cfg.StaleIfError).UTC().Format(time.RFC3339)
			}
		}
		if s.draining.Load() {
			checks["server"], code = "draining", http.StatusServiceUnavailable
		}
		status := "ready"
		if code != http.StatusOK {
			status = "not ready"
		}
		web.WriteJSON(w, code, map[string]any{"status": status, "checks": checks})
	})
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.db.Ping(ctx)
}
