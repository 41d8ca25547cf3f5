package server

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth/authorize"
)

// mountAuthorize wires the browser login for apps: GET /oauth2/authorize,
// the login page and its POST, and the authorization_code grant on the
// token endpoint. accounts is the account service (password checks,
// lockout, sessions); issuer mints user tokens (the provider).
func (s *Server) mountAuthorize(mux *http.ServeMux, accounts authorize.Accounts, issuer authorize.TokenIssuer) error {
	// The form key must be the same on every replica, so a login page
	// served by one can be posted to another: derive it from the master key.
	master, err := loadMasterKey(s.cfg.MasterKey, s.cfg.DataDir, func(string, ...any) {})
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	key, err := keys.DeriveKey(master, "authorize form key")
	if err != nil {
		return fmt.Errorf("authorize: %w", err)
	}
	h, err := authorize.New(authorize.Config{
		Provider: s.provider, Store: s.store, Accounts: accounts, Tokens: issuer, Key: key,
		SecureCookies: strings.HasPrefix(s.cfg.Issuer, "https://"),
		Audit:         s.audit, Logger: s.log.With("component", "authorize"),
	})
	if err != nil {
		return err
	}
	h.Mount(mux)
	return nil
}
