package server

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/oauth/authorize"
)

// newAuthorize builds the browser login for apps: GET /oauth2/authorize,
// the login page and its POST, and the authorization_code grant it hands
// to the provider. accounts checks passwords (lockout, sessions); issuer
// mints the user's tokens.
func (s *Server) newAuthorize(rt *runtime, minter oauth.Minter, limiter oauth.Limiter,
	accounts authorize.Accounts, issuer authorize.TokenIssuer, log *slog.Logger) (*authorize.Handler, error) {
	// The form key must be the same on every replica, so a login page
	// served by one can be posted to another: derive it from the master key.
	key, err := keys.DeriveKey(s.master, secretLabel(rt.info, "authorize form key"))
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	return authorize.New(authorize.Config{
		Minter: minter, Limiter: limiter, Store: rt.store, Accounts: accounts, Tokens: issuer, Key: key,
		SecureCookies: strings.HasPrefix(rt.info.Issuer, "https://"),
		Sessions:      rt.revoked, TokenLifetime: s.cfg.AccessTokenLifetime,
		Audit: rt.audit, Logger: log.With("component", "authorize"), Now: s.cfg.Now,
	})
}
