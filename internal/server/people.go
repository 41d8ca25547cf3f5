package server

// The people part of Permiso: users, logins, refresh tokens, sessions and
// the authorize endpoint. mountPeople builds a *people value, pp, and hands
// its parts to the authorize wiring (internal/server/authorize.go) at the
// marked line:
//
//	pp.accounts  *account.Service   implements authorize.Accounts
//	pp.tokens    *oauth.UserTokens  implements authorize.TokenIssuer

import (
	"context"
	"fmt"
	"net/http"

	"github.com/permiso-auth/permiso/internal/account"
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

// people is what mountPeople builds.
type people struct {
	accounts *account.Service
	tokens   *oauth.UserTokens
}

// newPeople builds the account service and the user-token issuer from the
// server configuration and registers the password and refresh_token
// grants, the subject check and the refresh-token handler on the provider.
func (s *Server) newPeople(ctx context.Context) (*people, error) {
	cfg := s.cfg
	policy := account.DefaultPolicy()
	policy.MinLength = cfg.PasswordMinLength
	var mailer account.Mailer
	if cfg.SMTPURL != "" {
		m, err := account.NewSMTPMailer(cfg.SMTPURL, cfg.MailFrom)
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		mailer = m
	}
	accounts, err := account.New(account.Config{
		Store: s.store, Audit: s.audit, Logger: s.log.With("component", "account"),
		MaxLoginAttempts: cfg.MaxLoginAttempts, LockoutDuration: cfg.LockoutDuration,
		DefaultUserRole: cfg.DefaultUserRole, Policy: &policy, Mailer: mailer,
		SessionLifetime: cfg.RefreshTokenLifetime, BaseURL: cfg.Issuer,
	})
	if err != nil {
		return nil, err
	}
	ut, err := oauth.NewUserTokens(oauth.UserTokensConfig{Provider: s.provider, Store: s.store, Accounts: accounts,
		AccessTokenLifetime: cfg.AccessTokenLifetime, RefreshTokenLifetime: cfg.RefreshTokenLifetime})
	if err != nil {
		return nil, err
	}
	if err := ut.EnsureFirstPartyClient(ctx); err != nil {
		return nil, err
	}
	s.provider.SetSubjectChecker(accounts)
	return &people{accounts: accounts, tokens: ut}, nil
}

// mountPeople wires users, logins, refresh tokens, sessions and the
// authorization endpoint: it registers their grants on s.provider, installs
// the subject checker and refresh-token handler, and mounts their routes.
func (s *Server) mountPeople(ctx context.Context, mux *http.ServeMux, d peopleDeps) error {
	pp, err := s.newPeople(ctx)
	if err != nil {
		return fmt.Errorf("people: %w", err)
	}
	d.api.MountPeople(mux, api.PeopleConfig{Accounts: pp.accounts, Tokens: pp.tokens, Started: s.started})
	// Browser login for apps: the authorize endpoint and its login page
	// (internal/server/authorize.go) sign people in with the same service.
	return s.mountAuthorize(mux, pp.accounts, pp.tokens)
}
