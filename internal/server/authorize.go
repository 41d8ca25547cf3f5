package server

import (
	"fmt"
	"strings"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/oauth/authorize"
)

// newAuthorize builds the browser login for apps: GET /oauth2/authorize,
// the login page and its POST, and the authorization_code grant it hands
// to the provider. accounts checks passwords (lockout, sessions); issuer
// mints the user's tokens.
func (s *Server) newAuthorize(master []byte, minter oauth.Minter, limiter oauth.Limiter,
	accounts authorize.Accounts, issuer authorize.TokenIssuer) (*authorize.Handler, error) {
	// The form key must be the same on every replica, so a login page
	// served by one can be posted to another: derive it from the master key.
	key, err := keys.DeriveKey(master, "authorize form key")
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	return authorize.New(authorize.Config{
		Minter: minter, Limiter: limiter, Store: s.store, Accounts: accounts, Tokens: issuer, Key: key,
		SecureCookies: strings.HasPrefix(s.cfg.Issuer, "https://"),
		Sessions:      s.revoked, TokenLifetime: s.cfg.AccessTokenLifetime,
		Audit: s.audit, Logger: s.log.With("component", "authorize"), Now: s.cfg.Now,
	})
}
