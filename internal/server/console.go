package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"

	"github.com/permiso-auth/permiso/internal/console"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
)

// mountConsole serves the admin console at /admin. The console calls mux
// in-process for everything it shows or changes, so it must be mounted on
// the same mux as the API and the OAuth endpoints (and after s.provider
// exists).
func (s *Server) mountConsole(ctx context.Context, mux *http.ServeMux) error {
	// The console's client secret is derived from the master key: every
	// replica computes the same one, and none is stored or shared.
	master, err := loadMasterKey(s.cfg.MasterKey, s.cfg.DataDir, func(string, ...any) {})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	raw, err := keys.DeriveKey(master, "console client secret")
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	c, err := console.New(ctx, console.Config{
		Issuer: s.cfg.Issuer, Handler: mux, Store: s.store, Hasher: s.provider.Config().Secrets,
		ClientSecret: oauth.SecretPrefix + base64.RawURLEncoding.EncodeToString(raw),
		Logger:       s.log.With("component", "console"),
	})
	if err != nil {
		return err
	}
	mux.Handle(console.Path, c)
	mux.Handle(console.Path+"/", c)
	return nil
}
