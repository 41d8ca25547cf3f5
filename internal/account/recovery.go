package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/opaque"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

// UserTokenPrefix starts the single-use tokens of password resets and email
// verification, so a leaked one is recognisable.
const UserTokenPrefix = "pmu_"

// ChangePassword sets a new password. When self is true the current
// password must be given and correct (400 otherwise); an administrator
// changing another user's password skips that check. Either way every
// other session of the user ends and its refresh tokens are revoked:
// keepSession (the caller's own session, may be empty) survives a user's
// own change.
func (s *Service) ChangePassword(ctx context.Context, id, current, newPassword string, self bool, keepSession string, m Meta) error {
	u, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if self && (len(current) > maxPasswordLen || !s.verify(ctx, current, u.PasswordHash)) {
		s.record(ctx, m, "user.password_change", outcomeFailure, u.ID, map[string]any{"reason": "wrong_current_password"})
		return web.BadRequest("Current password is incorrect").With("detail", "Current password is incorrect")
	}
	if err := s.setPassword(ctx, &u, newPassword, false); err != nil {
		return err
	}
	if !self {
		keepSession = ""
	}
	n, err := s.endAllSessions(ctx, u.ID, keepSession)
	if err != nil {
		return err
	}
	s.record(ctx, m, "user.password_changed", outcomeSuccess, u.ID, map[string]any{"by_admin": !self, "sessions_terminated": n})
	return nil
}

// setPassword checks the policy, hashes and stores a new password; unlock
// also clears a lockout (a reset proves control of the mailbox).
func (s *Service) setPassword(ctx context.Context, u *store.User, password string, unlock bool) error {
	if problems := s.cfg.Policy.Check(password, u.Username); len(problems) > 0 {
		var f web.Fields
		for _, p := range problems {
			f.Addf("new_password: %s", p)
		}
		return f.Err()
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	now := s.cfg.Now()
	_, err = s.cfg.Store.UpdateUser(ctx, u.ID, func(x store.User) (store.User, error) {
		x.PasswordHash, x.PasswordChangedAt = hash, now
		if unlock {
			x.FailedLoginAttempts, x.LockedUntil = 0, nil
		}
		return x, nil
	})
	if err != nil {
		return userErr("store password", err)
	}
	return nil
}

// Neutral answers of the request endpoints: the same whether or not the
// address belongs to anyone.
const (
	ResetRequested  = "If the email exists, a password reset link has been sent"
	VerifyRequested = "If the email exists and is not verified, a verification link has been sent"
)

// RequestPasswordReset mails a single-use reset token (valid
// ResetTokenLifetime) to the active user with this email. It answers the
// same for unknown addresses; the mail is sent in the background so its
// latency does not tell either.
func (s *Service) RequestPasswordReset(ctx context.Context, email string, m Meta) error {
	return s.requestToken(ctx, email, store.PurposePasswordReset, m)
}

// RequestEmailVerification mails a single-use verification token (valid
// VerifyTokenLifetime) to the active, unverified user with this email.
func (s *Service) RequestEmailVerification(ctx context.Context, email string, m Meta) error {
	return s.requestToken(ctx, email, store.PurposeEmailVerification, m)
}

func (s *Service) requestToken(ctx context.Context, email, purpose string, m Meta) error {
	var problems web.Fields
	email = checkEmail(email, &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	u, err := s.cfg.Store.GetUserByLogin(ctx, email)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (!u.Active || u.Email != email ||
		purpose == store.PurposeEmailVerification && u.Verified)) {
		s.record(ctx, m, purpose+".requested", outcomeFailure, "", map[string]any{"reason": "no_eligible_user"})
		return nil
	}
	if err != nil {
		return unavailable("load user", err)
	}
	ttl := s.cfg.ResetTokenLifetime
	if purpose == store.PurposeEmailVerification {
		ttl = s.cfg.VerifyTokenLifetime
	}
	tok, hash := opaque.New(UserTokenPrefix)
	now := s.cfg.Now()
	if err := s.cfg.Store.CreateUserToken(ctx, store.UserToken{Hash: hash, UserID: u.ID, Purpose: purpose,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return unavailable("store user token", err)
	}
	s.record(ctx, m, purpose+".requested", outcomeSuccess, u.ID, nil)
	s.sendAsync(ctx, s.tokenMail(u, purpose, tok, now.Add(ttl)))
	return nil
}

// ConfirmPasswordReset sets a new password with a reset token, clears any
// lockout, and ends every session of the user (revoking their refresh
// tokens). A bad, expired or used token is 400 invalid_token.
func (s *Service) ConfirmPasswordReset(ctx context.Context, token, newPassword string, m Meta) error {
	// Check what can be checked before the token is spent.
	if problems := s.cfg.Policy.Check(newPassword, ""); len(problems) > 0 {
		var f web.Fields
		for _, p := range problems {
			f.Addf("new_password: %s", p)
		}
		return f.Err()
	}
	t, err := s.consume(ctx, token, store.PurposePasswordReset, m)
	if err != nil {
		return err
	}
	u, err := s.Get(ctx, t.UserID)
	if err != nil {
		return err
	}
	if err := s.setPassword(ctx, &u, newPassword, true); err != nil {
		return err
	}
	n, err := s.endAllSessions(ctx, u.ID, "")
	if err != nil {
		return err
	}
	s.record(ctx, m, "password_reset.completed", outcomeSuccess, u.ID, map[string]any{"sessions_terminated": n})
	return nil
}

// ConfirmEmailVerification marks the token's user verified.
func (s *Service) ConfirmEmailVerification(ctx context.Context, token string, m Meta) error {
	t, err := s.consume(ctx, token, store.PurposeEmailVerification, m)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.UpdateUser(ctx, t.UserID, func(x store.User) (store.User, error) {
		x.Verified = true
		return x, nil
	}); err != nil {
		return userErr("verify email", err)
	}
	s.record(ctx, m, "email_verification.completed", outcomeSuccess, t.UserID, nil)
	return nil
}

func errInvalidToken() *web.Error {
	return web.Errorf(http.StatusBadRequest, "invalid_token", "The token is invalid, expired or already used")
}

func (s *Service) consume(ctx context.Context, token, purpose string, m Meta) (store.UserToken, error) {
	if !strings.HasPrefix(token, UserTokenPrefix) || len(token) > 128 {
		s.record(ctx, m, purpose+".confirm", outcomeFailure, "", map[string]any{"reason": "malformed"})
		return store.UserToken{}, errInvalidToken()
	}
	t, err := s.cfg.Store.ConsumeUserToken(ctx, opaque.Hash(token), purpose, s.cfg.Now())
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAlreadyUsed):
		reason := "unknown_or_expired"
		if errors.Is(err, store.ErrAlreadyUsed) {
			reason = "already_used"
		}
		s.record(ctx, m, purpose+".confirm", outcomeFailure, "", map[string]any{"reason": reason})
		return store.UserToken{}, errInvalidToken()
	case err != nil:
		return store.UserToken{}, unavailable("consume token", err)
	}
	return t, nil
}

func (s *Service) tokenMail(u store.User, purpose, token string, expires time.Time) Message {
	base := strings.TrimSuffix(s.cfg.BaseURL, "/")
	if purpose == store.PurposePasswordReset {
		return Message{To: u.Email, Subject: "Reset your Permiso password",
			Body: fmt.Sprintf("Hello %s,\n\nSomeone asked to reset your password. If it was you, set a new one with this token before %s:\n\n  %s\n\n"+
				"POST %s/api/v1/users/password-reset/confirm with {\"token\": \"<token>\", \"new_password\": \"...\"}\n\n"+
				"If it was not you, ignore this message.\n",
				u.Username, expires.UTC().Format(time.RFC1123), token, base)}
	}
	return Message{To: u.Email, Subject: "Verify your email address for Permiso",
		Body: fmt.Sprintf("Hello %s,\n\nConfirm your email address with this token before %s:\n\n  %s\n\n"+
			"POST %s/api/v1/users/email-verification/confirm with {\"token\": \"<token>\"}\n",
			u.Username, expires.UTC().Format(time.RFC1123), token, base)}
}
