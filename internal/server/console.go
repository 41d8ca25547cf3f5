package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/permiso-auth/permiso/internal/console"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
)

// newConsole builds the admin console served at /admin. It calls api (the
// mux that serves /api/v1 and the OAuth endpoints) in-process for
// everything it shows or changes.
func (s *Server) newConsole(ctx context.Context, rt *runtime, api http.Handler, log *slog.Logger) (*console.Console, error) {
	// The console's client secret is derived from the master key: every
	// replica computes the same one, and none is stored or shared.
	raw, err := keys.DeriveKey(s.master, secretLabel(rt.info, "console client secret"))
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return console.New(ctx, console.Config{
		Issuer: rt.info.Issuer, Handler: api, Store: rt.store, Hasher: rt.secrets,
		ClientSecret: oauth.SecretPrefix + base64.RawURLEncoding.EncodeToString(raw),
		Logger:       log.With("component", "console"), Now: s.cfg.Now,
	})
}
