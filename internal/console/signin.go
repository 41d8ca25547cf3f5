package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// errSignedOut means the session can no longer act: its tokens expired,
// were revoked, or the user was disabled. The browser signs in again.
var errSignedOut = errors.New("console session ended")

// refreshMargin is how long before expiry an access token is renewed, so a
// page never sends a token that expires on the way.
const refreshMargin = 60 * time.Second

func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Path, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
}

// safeReturn keeps a return path inside the console.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, Path+"/") || strings.HasPrefix(p, Path+"//") || strings.ContainsAny(p, "\\\r\n") {
		return Path + "/"
	}
	return p
}

// signIn starts the authorization-code flow with PKCE (RFC 7636, S256).
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	verifier := randomToken(32)
	sum := sha256.Sum256([]byte(verifier))
	state := c.sessions.begin(verifier, safeReturn(r.URL.Query().Get("return")))
	c.setCookie(w, pendingCookie, state, int(pendingTimeout/time.Second))
	q := url.Values{
		"response_type": {"code"}, "client_id": {ClientID}, "redirect_uri": {c.redirectURI()},
		"state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		// The tokens are for Permiso's own API, which accepts no other
		// audience, whatever audiences the console's client may be given.
		"resource": {c.cfg.Issuer},
	}
	http.Redirect(w, r, c.cfg.Issuer+oauth.PathAuthorize+"?"+q.Encode(), http.StatusSeeOther)
}

// callback finishes the flow: it checks state against the browser's
// cookie (so a code cannot be planted in someone else's browser) and the
// iss parameter (RFC 9207), then exchanges the code in-process.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c.setCookie(w, pendingCookie, "", -1)
	cookie, err := r.Cookie(pendingCookie)
	state := q.Get("state")
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(cookie.Value), []byte(state)) != 1 {
		c.renderSignInProblem(w, r, http.StatusBadRequest, "This sign-in link does not belong to this browser, or it expired. Start again.")
		return
	}
	p, ok := c.sessions.finish(state)
	if !ok {
		c.renderSignInProblem(w, r, http.StatusBadRequest, "This sign-in expired. Start again.")
		return
	}
	if iss := q.Get("iss"); iss != "" && iss != c.cfg.Issuer {
		c.renderSignInProblem(w, r, http.StatusBadRequest, "The sign-in answer came from another issuer.")
		return
	}
	if e := q.Get("error"); e != "" {
		msg := "Sign-in was refused (" + e + ")."
		if d := q.Get("error_description"); d != "" {
			msg = "Sign-in was refused: " + d
		}
		c.renderSignInProblem(w, r, http.StatusForbidden, msg)
		return
	}
	tok, err := c.exchange(r, url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {c.redirectURI()}, "code_verifier": {p.verifier}})
	if err != nil {
		c.cfg.Logger.WarnContext(r.Context(), "console sign-in failed", "err", err)
		c.renderSignInProblem(w, r, http.StatusBadGateway, "Permiso did not accept the sign-in. Start again.")
		return
	}
	sess := &session{}
	c.applyToken(sess, tok)
	c.sessions.create(sess)
	c.setCookie(w, sessionCookie, sess.id, 0)
	http.Redirect(w, r, p.returnTo, http.StatusSeeOther)
}

// exchange posts form to the token endpoint as the console's client. A
// first invalid_client means the stored secret is missing (a new database,
// or an administrator rotated it): the console stores it and tries once more.
func (c *Console) exchange(r *http.Request, form url.Values) (*wire.TokenResponse, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 || !c.secretReady.Load() {
			if err := c.ensureSecret(r.Context()); err != nil {
				return nil, err
			}
			c.secretReady.Store(true)
		}
		res, err := do(r.Context(), c.cfg.Handler, r, c.host, call{Method: http.MethodPost, Path: oauth.PathToken,
			Form: form, Basic: [2]string{ClientID, c.cfg.ClientSecret}})
		if err != nil {
			return nil, err
		}
		if res.Status == http.StatusUnauthorized && attempt == 0 {
			if e, _ := res.Err().(*apiError); e != nil && e.Code == wire.ErrInvalidClient {
				continue
			}
		}
		if err := res.Err(); err != nil {
			return nil, fmt.Errorf("token endpoint: %w", err)
		}
		var tok wire.TokenResponse
		if err := res.Decode(&tok); err != nil {
			return nil, err
		}
		if tok.AccessToken == "" {
			return nil, errors.New("token endpoint answered without an access token")
		}
		return &tok, nil
	}
}

// applyToken stores a token response in sess. The access token's claims
// are read without verification: it came from this server's own token
// endpoint a moment ago, in-process, and the API verifies it on every use.
func (c *Console) applyToken(sess *session, tok *wire.TokenResponse) {
	sess.access = tok.AccessToken
	if tok.RefreshToken != "" {
		sess.refresh = tok.RefreshToken
	}
	sess.expires = c.cfg.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
	var claims struct {
		Sub      string `json:"sub"`
		Username string `json:"username"`
		Scope    string `json:"scope"`
	}
	if parts := strings.Split(tok.AccessToken, "."); len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			_ = json.Unmarshal(b, &claims)
		}
	}
	sess.subject, sess.username = claims.Sub, claims.Username
	if sess.username == "" {
		sess.username = claims.Sub
	}
	scope := tok.Scope
	if scope == "" {
		scope = claims.Scope
	}
	sess.scopes = strings.Fields(scope)
}

// accessToken returns a current access token for sess, refreshing it with
// the rotating refresh token when it is about to expire. The session lock
// is held across the refresh, so concurrent pages never spend the same
// refresh token twice (which would revoke the whole family).
func (c *Console) accessToken(r *http.Request, sess *session) (string, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if c.cfg.Now().Add(refreshMargin).Before(sess.expires) {
		return sess.access, nil
	}
	if sess.refresh == "" {
		return "", errSignedOut
	}
	tok, err := c.exchange(r, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sess.refresh}})
	if err != nil {
		c.cfg.Logger.InfoContext(r.Context(), "console session could not be renewed", "err", err)
		return "", errSignedOut
	}
	c.applyToken(sess, tok)
	return sess.access, nil
}

// api calls the in-process API as the session's user. A 401 means the
// token stopped being accepted (revoked, user disabled): the session ends.
func (c *Console) api(r *http.Request, sess *session, cl call) (*apiResult, error) {
	tok, err := c.accessToken(r, sess)
	if err != nil {
		return nil, err
	}
	cl.Bearer = tok
	res, err := do(r.Context(), c.cfg.Handler, r, c.host, cl)
	if err != nil {
		return nil, err
	}
	if res.Status == http.StatusUnauthorized {
		return nil, errSignedOut
	}
	return res, nil
}

// signOut ends the user's Permiso session (logout revokes the access token
// and the session's refresh tokens), revokes the refresh token explicitly
// as well, and forgets the console session.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, sess *session) error {
	sess.mu.Lock()
	access, refresh := sess.access, sess.refresh
	sess.access, sess.refresh = "", ""
	sess.mu.Unlock()
	c.sessions.remove(sess.id)
	c.setCookie(w, sessionCookie, "", -1)
	if access != "" {
		if res, err := do(r.Context(), c.cfg.Handler, r, c.host, call{Method: http.MethodPost,
			Path: "/api/v1/auth/logout", Bearer: access}); err != nil || (!res.OK() && res.Status != http.StatusUnauthorized) {
			c.cfg.Logger.WarnContext(r.Context(), "console logout", "err", err, "status", statusOf(res))
		}
	}
	if refresh != "" {
		if res, err := do(r.Context(), c.cfg.Handler, r, c.host, call{Method: http.MethodPost, Path: oauth.PathRevoke,
			Form:  url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}},
			Basic: [2]string{ClientID, c.cfg.ClientSecret}}); err != nil || !res.OK() {
			c.cfg.Logger.WarnContext(r.Context(), "console revoke", "err", err, "status", statusOf(res))
		}
	}
	http.Redirect(w, r, Path+"/signed-out", http.StatusSeeOther)
	return nil
}

func statusOf(res *apiResult) int {
	if res == nil {
		return 0
	}
	return res.Status
}
