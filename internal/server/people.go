package server

import (
	"fmt"
	"log/slog"

	"github.com/permiso-auth/permiso/internal/account"
)

// newAccounts builds the account service: users, passwords, lockout and
// sessions. It is the provider's subject check and the password check of
// every login (the original's, the password grant, the login page).
func (s *Server) newAccounts(rt *runtime, log *slog.Logger) (*account.Service, error) {
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
		Store: rt.store, Audit: rt.audit, Logger: log.With("component", "account"),
		MaxLoginAttempts: cfg.MaxLoginAttempts, MaxUserLoginAttempts: cfg.MaxUserLoginAttempts, LockoutDuration: cfg.LockoutDuration,
		DefaultUserRole: cfg.DefaultUserRole, Policy: &policy, Mailer: mailer,
		SessionLifetime: cfg.RefreshTokenLifetime, BaseURL: rt.info.Issuer, Now: cfg.Now,
		// Ended sessions go on the revocation feed, so guards refuse their
		// tokens (and the tokens derived from them) too.
		Sessions: rt.revoked, TokenLifetime: cfg.AccessTokenLifetime,
	})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return accounts, nil
}
