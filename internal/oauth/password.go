package oauth

import (
	"context"
	"net/http"
	"slices"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Bounds on the password grant's parameters.
const (
	maxUsernameParam = 255
	maxPasswordParam = 1024
)

// passwordGrant is the resource owner password credentials grant (RFC 6749
// §4.3) for confidential clients that list "password" in grant_types. The
// user's scopes are capped by the client's; a refresh token is issued when
// the client also lists refresh_token.
type passwordGrant struct{ ut *UserTokens }

func (g passwordGrant) Token(ctx context.Context, req *TokenRequest, c *store.Client) (*TokenResult, error) {
	if req.Username == "" || req.Password == "" {
		return nil, web.BadRequest("The username and password parameters are required")
	}
	if len(req.Username) > maxUsernameParam || len(req.Password) > maxPasswordParam {
		return nil, invalidUserGrant(nil)
	}
	aud, err := g.ut.cfg.Minter.Audience(c, req.Resources)
	if err != nil {
		return nil, err
	}
	u, err := g.ut.cfg.Accounts.Authenticate(ctx, req.Username, req.Password, req.IP, req.UserAgent)
	if err != nil {
		g.ut.failedUser(ctx, req, err)
		we, ok := web.AsError(err)
		if !ok || we.Status >= 500 || we.Status == http.StatusTooManyRequests {
			return nil, err
		}
		return nil, invalidUserGrant(we)
	}
	sess, err := g.ut.cfg.Accounts.StartSession(ctx, u, c.ClientID, req.IP, req.UserAgent)
	if err != nil {
		return nil, err
	}
	withRefresh := slices.Contains(c.GrantTypes, wire.GrantRefreshToken)
	return g.ut.IssueUserTokens(ctx, u, sess.ID, c, UserScopes(u, c, req.Scopes), aud, withRefresh, req.Bind)
}

// invalidUserGrant is the RFC 6749 §5.2 form of a failed user
// authentication: 400 invalid_grant, with the account's reason (disabled,
// locked until) kept in the description and fields, which are only given
// after a correct password.
func invalidUserGrant(we *web.Error) *web.Error {
	e := web.Errorf(http.StatusBadRequest, wire.ErrInvalidGrant, "Invalid username or password")
	if we != nil && we.Code != wire.ErrInvalidGrant {
		e.Description = we.Description
		for k, v := range we.Extra {
			e.With(k, v)
		}
		e.With("reason", we.Code)
	}
	return e
}
