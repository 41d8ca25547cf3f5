package authorize

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// codeGrant is the authorization_code grant (RFC 6749 §4.1.3). The
// dispatcher has authenticated the client (a public client by client_id
// alone) and checked that it may use the grant.
type codeGrant struct{ h *Handler }

// invalidGrant is the answer to every bad code, so a caller learns nothing
// about which check failed; the audit log and the server log keep the reason.
func invalidGrant() *web.Error {
	return web.Errorf(http.StatusBadRequest, wire.ErrInvalidGrant, "The authorization code is invalid, expired or already used")
}

func (g codeGrant) Token(ctx context.Context, req *oauth.TokenRequest, c *store.Client) (*oauth.TokenResult, error) {
	h := g.h
	if req.Code == "" {
		return nil, web.BadRequest("The code parameter is required")
	}
	if !strings.HasPrefix(req.Code, tokens.CodePrefix) || len(req.Code) > 128 {
		return nil, invalidGrant()
	}
	now := h.now()
	code, err := h.cfg.Store.ConsumeAuthCode(ctx, tokens.HashOpaque(req.Code), now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		h.codeReused(ctx, req, code)
		return nil, invalidGrant()
	case errors.Is(err, store.ErrNotFound):
		return nil, g.refuse(ctx, req, c, "unknown_or_expired", invalidGrant())
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("consume authorization code: %w", err))
	}
	if reason := g.check(req, c, &code, now); reason != "" {
		return nil, g.refuse(ctx, req, c, reason, invalidGrant())
	}
	// RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a
	// proof of that key, and its tokens are bound to it.
	var bound *wire.Confirmation
	if code.DPoPJKT != "" {
		bound = &wire.Confirmation{JKT: code.DPoPJKT}
	}
	cnf, err := oauth.RequirePossession(req, bound)
	if err != nil {
		return nil, g.refuse(ctx, req, c, "dpop_jkt_mismatch", err)
	}
	u, err := h.cfg.Store.GetUser(ctx, code.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, g.refuse(ctx, req, c, "user_gone", invalidGrant())
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("load user: %w", err))
	case !u.Active: // a lock ends no login already made, this code's included
		return nil, g.refuse(ctx, req, c, "user_inactive", invalidGrant())
	}
	sess, err := h.cfg.Store.GetSession(ctx, code.SessionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, g.refuse(ctx, req, c, "session_gone", invalidGrant())
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("load session: %w", err))
	case sess.RevokedAt != nil || !sess.ExpiresAt.After(now):
		return nil, g.refuse(ctx, req, c, "session_ended", invalidGrant())
	}
	aud, err := codeAudience(code.Audience, req.Resources)
	if err != nil {
		return nil, err
	}
	// The second half of the scope policy, at issue time: what was granted
	// at sign-in, narrowed by any change to the client's or the user's
	// scopes since (never widened).
	scopes := intersect(intersect(strings.Fields(code.Scope), c.ScopeNames()), rbac.UserScopes(&u))
	withRefresh := slices.Contains(c.GrantTypes, wire.GrantRefreshToken)
	res, err := h.cfg.Tokens.IssueUserTokens(ctx, &u, code.SessionID, c, scopes, aud, withRefresh, cnf)
	if err != nil {
		return nil, fmt.Errorf("issue tokens for code: %w", err)
	}
	return res, nil
}

// check applies the bindings of a consumed code; it returns the reason for
// refusing it, or "".
func (g codeGrant) check(req *oauth.TokenRequest, c *store.Client, code *store.AuthCode, now time.Time) string {
	switch {
	case code.ClientID != c.ClientID:
		return "client_mismatch"
	case !code.ExpiresAt.After(now):
		return "expired"
	case code.RedirectURI != "" && req.RedirectURI != code.RedirectURI:
		return "redirect_uri_mismatch"
	case code.RedirectURI == "" && req.RedirectURI != "" && !(len(c.RedirectURIs) == 1 && c.RedirectURIs[0] == req.RedirectURI):
		return "redirect_uri_mismatch"
	case code.CodeChallenge != "" && !verifierMatches(req.CodeVerifier, code.CodeChallenge):
		return "pkce_mismatch"
	case code.CodeChallenge == "" && req.CodeVerifier != "":
		// A verifier for a code issued without a challenge is a downgrade
		// attempt (RFC 9700 §2.1.1): the client meant to use PKCE.
		return "pkce_unexpected"
	case code.CodeChallenge == "" && c.Type == wire.ClientTypePublic:
		return "pkce_missing"
	}
	return ""
}

// codeAudience is the token's aud: the resources of the authorization
// request, or a subset of them named again at the token endpoint
// (RFC 8707 §2.2).
func codeAudience(granted, asked []string) (wire.Audience, error) {
	if len(asked) == 0 {
		return wire.Audience(slices.Clone(granted)), nil
	}
	aud := make(wire.Audience, 0, len(asked))
	for _, r := range asked {
		if !slices.Contains(granted, r) {
			return nil, web.Errorf(http.StatusBadRequest, wire.ErrInvalidTarget, "The resource was not part of the authorization request")
		}
		if !aud.Contains(r) {
			aud = append(aud, r)
		}
	}
	return aud, nil
}

// refuse audits why a code was refused and returns err.
func (g codeGrant) refuse(ctx context.Context, req *oauth.TokenRequest, c *store.Client, reason string, err error) error {
	g.h.cfg.Audit.Record(ctx, store.AuditEvent{Type: "authorize.code_refused", Outcome: audit.Failure, ActorType: "client",
		ActorID: c.ClientID, Target: c.ClientID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID,
		Details: map[string]any{"reason": reason}})
	return err
}

// codeReused handles a second use of a code: RFC 6749 §4.1.2 says the
// tokens issued from it should be revoked, since one of the two callers is
// an attacker. Ending the session the code opened does that: its refresh
// tokens are revoked and its access tokens fail the session check.
func (h *Handler) codeReused(ctx context.Context, req *oauth.TokenRequest, code store.AuthCode) {
	now := h.now()
	details := map[string]any{"client_id": code.ClientID, "session_id": code.SessionID}
	if code.SessionID != "" {
		_, err := h.cfg.Store.UpdateSession(ctx, code.SessionID, func(s store.Session) (store.Session, error) {
			if s.RevokedAt == nil {
				s.RevokedAt = &now
			}
			return s, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.cfg.Logger.WarnContext(ctx, "end session of reused code", "session_id", code.SessionID, "err", err)
		}
		n, err := h.cfg.Store.RevokeSessionRefreshTokens(ctx, code.SessionID, now)
		if err != nil {
			h.cfg.Logger.WarnContext(ctx, "revoke refresh tokens of reused code", "session_id", code.SessionID, "err", err)
		}
		details["refresh_tokens_revoked"] = n
		if h.cfg.Sessions != nil {
			if err := h.cfg.Sessions.RevokeSession(ctx, code.SessionID, now.Add(h.cfg.TokenLifetime+time.Minute)); err != nil {
				h.cfg.Logger.WarnContext(ctx, "publish session of reused code", "session_id", code.SessionID, "err", err)
			}
		}
	}
	h.cfg.Audit.Record(ctx, store.AuditEvent{Type: "authorize.code_reused", Outcome: audit.Denied, ActorType: "client",
		ActorID: req.Client.ID, Target: code.UserID, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID,
		Details: details})
}
