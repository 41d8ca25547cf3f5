package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// maxRefreshLen bounds a presented refresh token (ours are 47 characters).
const maxRefreshLen = 128

// refreshGrant is the refresh_token grant (RFC 6749 §6). A token issued to
// a client can only be refreshed by that client.
type refreshGrant struct{ ut *UserTokens }

func (g refreshGrant) Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	if req.RefreshToken == "" {
		return nil, web.BadRequest("The refresh_token parameter is required")
	}
	return g.ut.Refresh(ctx, req, c)
}

// errRefresh is the one answer to every unusable refresh token; the audit
// log keeps the reason.
func errRefresh(description string) *web.Error {
	return web.Errorf(http.StatusBadRequest, wire.ErrInvalidGrant, "%s", description)
}

// Refresh rotates the refresh token req.RefreshToken: it is marked used and
// a new one of the same family (same absolute expiry, same session, same
// scopes, narrowed if the user lost some) comes back with a new access
// token. A used token presented again revokes its whole family and ends
// its session, since either the user or a thief holds a copy. c is the
// authenticated client at /oauth2/token; nil means the original's
// /api/v1/auth/refresh, which accepts only tokens of the first-party login
// and of public clients (which have no secret to present anyway).
func (ut *UserTokens) Refresh(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	raw := req.RefreshToken
	if !strings.HasPrefix(raw, tokens.RefreshPrefix) || len(raw) > maxRefreshLen {
		if strings.Count(raw, ".") == 2 {
			return nil, ut.refuse(ctx, req, "", "not_refresh_token", errRefresh("Invalid token type: an access token is not a refresh token"))
		}
		return nil, ut.refuse(ctx, req, "", "malformed", errRefresh("Refresh token not found or expired"))
	}
	hash := tokens.HashOpaque(raw)
	t, err := ut.cfg.Store.GetRefreshToken(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ut.refuse(ctx, req, "", "unknown", errRefresh("Refresh token not found or expired"))
	}
	if err != nil {
		return nil, web.Unavailable(fmt.Errorf("load refresh token: %w", err))
	}
	// A refresh token issued before its tenant was disabled stays refused
	// once the tenant is enabled again, as its access tokens do.
	if ic, ok := ut.cfg.Sessions.(interface{ IssuedBefore() int64 }); ok {
		if nb := ic.IssuedBefore(); nb != 0 && t.CreatedAt.Unix() < nb {
			return nil, ut.refuse(ctx, req, t.UserID, "issued_before_disable", errRefresh("Refresh token not found or expired"))
		}
	}
	if reason, err := ut.checkClient(ctx, &t, c); reason != "" || err != nil {
		if err != nil {
			return nil, err
		}
		return nil, ut.refuse(ctx, req, t.UserID, reason, errRefresh("The refresh token was not issued to this client"))
	}
	// A bound family is refreshed only with proof of its key, checked
	// before the token is used up, so a thief without the key cannot even
	// burn it; and the new tokens stay bound.
	cnf, err := RequirePossession(req, wireCnf(t.Cnf))
	if err != nil {
		we, _ := web.AsError(err)
		return nil, ut.refuse(ctx, req, t.UserID, "binding", we)
	}
	now := ut.cfg.Now()
	t, err = ut.cfg.Store.UseRefreshToken(ctx, hash, now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		ut.reused(ctx, req, t)
		return nil, errRefresh("Refresh token not found or expired")
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("use refresh token: %w", err))
	case t.RevokedAt != nil:
		return nil, ut.refuse(ctx, req, t.UserID, "revoked", errRefresh("Refresh token not found or expired"))
	case !t.ExpiresAt.After(now):
		return nil, ut.refuse(ctx, req, t.UserID, "expired", errRefresh("Refresh token not found or expired"))
	}
	u, err := ut.cfg.Store.GetUser(ctx, t.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, ut.refuse(ctx, req, t.UserID, "user_gone", errRefresh("Refresh token not found or expired"))
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("load user: %w", err))
	case !u.Active:
		// A lockout refuses new logins only; refreshing continues a login.
		return nil, ut.refuse(ctx, req, u.ID, "user_inactive", errRefresh("User account is disabled"))
	}
	if t.SessionID != "" {
		sess, err := ut.cfg.Store.UpdateSession(ctx, t.SessionID, func(s store.Session) (store.Session, error) {
			if s.RevokedAt == nil && s.ExpiresAt.After(now) {
				s.LastActivity = now
			}
			return s, nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, ut.refuse(ctx, req, u.ID, "session_gone", errRefresh("The session has ended"))
		case err != nil:
			return nil, web.Unavailable(fmt.Errorf("touch session: %w", err))
		case sess.RevokedAt != nil || !sess.ExpiresAt.After(now):
			return nil, ut.refuse(ctx, req, u.ID, "session_ended", errRefresh("The session has ended"))
		}
	}
	// Never wider than at login; narrower if the user or client lost scopes.
	scopes := intersect(strings.Fields(t.Scope), UserScopes(&u, c, nil))
	res, err := ut.mint(&u, t.SessionID, t.ClientID, scopes, wire.Audience(t.Audience), cnf, MayActOf(c))
	if err != nil {
		return nil, err
	}
	res.RefreshToken, err = ut.newRefresh(ctx, store.RefreshToken{FamilyID: t.FamilyID, ParentID: t.ID, SessionID: t.SessionID,
		UserID: u.ID, ClientID: t.ClientID, Scope: strings.Join(scopes, " "), Audience: t.Audience, Cnf: storeCnf(cnf),
		CreatedAt: now, ExpiresAt: t.ExpiresAt})
	if err != nil {
		return nil, err
	}
	if c == nil {
		ut.issued(ctx, req, wire.GrantRefreshToken, res)
	}
	return res, nil
}

// checkClient applies the client binding; it returns a refusal reason.
func (ut *UserTokens) checkClient(ctx context.Context, t *store.RefreshToken, c *store.Client) (string, error) {
	if c != nil {
		if c.ClientID != t.ClientID {
			return "client_mismatch", nil
		}
		return "", nil
	}
	if t.ClientID == FirstPartyClientID {
		return "", nil
	}
	owner, err := ut.cfg.Store.GetClient(ctx, t.ClientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "client_gone", nil
	case err != nil:
		return "", web.Unavailable(fmt.Errorf("load client: %w", err))
	case owner.Type != wire.ClientTypePublic:
		return "confidential_client_token", nil
	case !owner.Active:
		return "client_disabled", nil
	}
	return "", nil
}

// reused answers a second use of a refresh token: the family is revoked
// and the session ended, so neither the user nor a thief keeps a working
// token from it.
func (ut *UserTokens) reused(ctx context.Context, req *TokenRequest, t store.RefreshToken) {
	now := ut.cfg.Now()
	n, err := ut.cfg.Store.RevokeRefreshFamily(ctx, t.FamilyID, now)
	if err != nil {
		ut.cfg.Logger.ErrorContext(ctx, "revoke reused refresh family", "family", t.FamilyID, "err", err)
	}
	details := map[string]any{"reason": "reuse", "family_id": t.FamilyID, "client_id": t.ClientID, "family_revoked": n}
	if t.SessionID != "" {
		if err := ut.endSession(ctx, t.SessionID); err != nil {
			ut.cfg.Logger.ErrorContext(ctx, "end session of reused refresh token", "session_id", t.SessionID, "err", err)
		}
		details["session_id"] = t.SessionID
	}
	ut.cfg.Audit.Record(ctx, store.AuditEvent{Type: "token.refresh_reused", Outcome: audit.Denied, ActorType: "user",
		ActorID: t.UserID, Target: t.UserID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID, Details: details})
}

// refuse audits a refused refresh and returns err.
func (ut *UserTokens) refuse(ctx context.Context, req *TokenRequest, userID, reason string, err *web.Error) error {
	actorType := "user"
	if userID == "" {
		actorType = "anonymous"
	}
	ut.cfg.Audit.Record(ctx, store.AuditEvent{Type: "token.refresh_denied", Outcome: audit.Failure, ActorType: actorType,
		ActorID: userID, Target: userID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID,
		Details: map[string]any{"reason": reason, "client_id": req.Client.ID}})
	return err
}

// IntrospectRefresh implements [RefreshTokens]: a refresh token is active
// while it is unused, unrevoked, unexpired, its user may log in and its
// session lives.
func (ut *UserTokens) IntrospectRefresh(ctx context.Context, raw string) (wire.IntrospectionResponse, error) {
	if len(raw) > maxRefreshLen {
		return wire.IntrospectionResponse{}, nil
	}
	t, err := ut.cfg.Store.GetRefreshToken(ctx, tokens.HashOpaque(raw))
	if errors.Is(err, store.ErrNotFound) {
		return wire.IntrospectionResponse{}, nil
	}
	if err != nil {
		return wire.IntrospectionResponse{}, fmt.Errorf("load refresh token: %w", err)
	}
	now := ut.cfg.Now()
	if t.UsedAt != nil || t.RevokedAt != nil || !t.ExpiresAt.After(now) {
		return wire.IntrospectionResponse{}, nil
	}
	u, err := ut.cfg.Store.GetUser(ctx, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return wire.IntrospectionResponse{}, nil
	}
	if err != nil {
		return wire.IntrospectionResponse{}, fmt.Errorf("load user: %w", err)
	}
	if !u.Active {
		return wire.IntrospectionResponse{}, nil
	}
	if t.SessionID != "" {
		s, err := ut.cfg.Store.GetSession(ctx, t.SessionID)
		if errors.Is(err, store.ErrNotFound) {
			return wire.IntrospectionResponse{}, nil
		}
		if err != nil {
			return wire.IntrospectionResponse{}, fmt.Errorf("load session: %w", err)
		}
		if s.RevokedAt != nil || !s.ExpiresAt.After(now) {
			return wire.IntrospectionResponse{}, nil
		}
	}
	return wire.IntrospectionResponse{Active: true, Scope: t.Scope, ClientID: t.ClientID, Username: u.Username,
		TokenType: wire.HintRefreshToken, Exp: t.ExpiresAt.Unix(), Iat: t.CreatedAt.Unix(), Sub: u.ID,
		Aud: wire.Audience(t.Audience), Iss: ut.cfg.Minter.Issuer, Scopes: strings.Fields(t.Scope), Type: "refresh",
		Cnf: wireCnf(t.Cnf)}, nil
}

// RevokeRefresh implements [RefreshTokens]: it revokes the token's whole
// family. Only the client the token was issued to, its user, or an admin
// may (see [Revoker]); unknown tokens succeed silently (RFC 7009 §2.2).
func (ut *UserTokens) RevokeRefresh(ctx context.Context, raw string, by Revoker) error {
	if len(raw) > maxRefreshLen {
		return nil
	}
	t, err := ut.cfg.Store.GetRefreshToken(ctx, tokens.HashOpaque(raw))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load refresh token: %w", err)
	}
	if !by.owns(t.ClientID, t.UserID) {
		return ErrNotOwner
	}
	if _, err := ut.cfg.Store.RevokeRefreshFamily(ctx, t.FamilyID, ut.cfg.Now()); err != nil {
		return fmt.Errorf("revoke refresh family: %w", err)
	}
	// The family is the grant of one login (its session): RFC 7009 §2.1
	// asks that the access tokens of the same grant go with it, and so do
	// the tokens derived from them.
	if t.SessionID != "" {
		if err := ut.endSession(ctx, t.SessionID); err != nil {
			return err
		}
	}
	if f := ut.cfg.Observer.Revocation; f != nil {
		f()
	}
	return nil
}
