package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// benchPassword satisfies the original's password rule (upper, lower,
// digit, special character, 8–128 characters).
const benchPassword = "Bench-Passw0rd!x"

// benchScopes are the scopes the benchmark's service client holds; both
// are seeded by `permiso serve`.
var benchScopes = []string{"trade:read", "market:data"}

// setup prepares what the scenarios need on the server under test, through
// its admin API, once each; it is used by one goroutine at a time.
type setup struct {
	base        string
	adminID     string
	adminSecret string
	conns       int
	client      *http.Client
	runID       string

	adminToken string
	ccID       string // the service client for client_credentials
	ccSecret   string
	liveToken  string // an access token of ccID, for introspection
	user       *userLogin
	userErr    error
	mtls       *mtlsBench // set when the benchmark started the server for the certificate scenarios
}

// userLogin is how the benchmark's user gets tokens: the request that
// worked, and the client (if any) that authenticates a refresh.
type userLogin struct {
	login              request
	clientID, secret   string
	refreshViaOAuth    bool
	refreshWithoutAuth bool
}

func newSetup(base, adminID, adminSecret string, conns int, allowRemote bool) *setup {
	var id [4]byte
	rand.Read(id[:])
	return &setup{base: base, adminID: adminID, adminSecret: adminSecret, conns: conns,
		client: newClient(4, allowRemote), runID: hex.EncodeToString(id[:])}
}

// call sends r once and returns the body of a want answer; any other
// status is a *StatusError carrying the start of the body.
func (s *setup) call(ctx context.Context, r request, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var buf bytes.Buffer
	body, err := r.send(ctx, s.client, &buf, want)
	var se *StatusError
	if errors.As(err, &se) {
		se.Body = strings.TrimSpace(string(body))
		if len(se.Body) > 200 {
			se.Body = se.Body[:200] + "…"
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, strings.TrimPrefix(r.url, s.base), err)
	}
	return bytes.Clone(body), nil
}

func jsonRequest(base, path string, v any, bearer string) (request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return request{}, fmt.Errorf("encode %s: %w", path, err)
	}
	r := request{method: http.MethodPost, url: strings.TrimRight(base, "/") + path, body: b, header: http.Header{}}
	r.header.Set("Content-Type", "application/json")
	if bearer != "" {
		r.header.Set("Authorization", "Bearer "+bearer)
	}
	return r, nil
}

// token gets an access token with the client credentials grant.
func (s *setup) token(ctx context.Context, id, secret string) (string, error) {
	return s.tokenFor(ctx, id, secret, nil)
}

// tokenFor gets an access token with the client credentials grant and the
// extra parameters.
func (s *setup) tokenFor(ctx context.Context, id, secret string, extra url.Values) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	body, err := s.call(ctx, formRequest(s.base, "/oauth2/token", form, id, secret), http.StatusOK)
	if err != nil {
		return "", err
	}
	tok, ok := jsonString(body, "access_token")
	if !ok || len(tok) == 0 {
		return "", fmt.Errorf("token response without access_token")
	}
	return string(tok), nil
}

func (s *setup) admin(ctx context.Context) (string, error) {
	if s.adminToken != "" {
		return s.adminToken, nil
	}
	if s.adminID == "" || s.adminSecret == "" {
		return "", errors.New("admin credentials required: --admin-client-id/--admin-client-secret or PERMISO_ADMIN_CLIENT_ID/PERMISO_ADMIN_CLIENT_SECRET")
	}
	tok, err := s.token(ctx, s.adminID, s.adminSecret)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	s.adminToken = tok
	return tok, nil
}

// createClient creates a service client and returns its id and secret.
func (s *setup) createClient(ctx context.Context, body map[string]any) (id, secret string, err error) {
	tok, err := s.admin(ctx)
	if err != nil {
		return "", "", err
	}
	r, err := jsonRequest(s.base, "/api/v1/service-clients", body, tok)
	if err != nil {
		return "", "", err
	}
	resp, err := s.call(ctx, r, http.StatusCreated)
	if err != nil {
		return "", "", fmt.Errorf("create client: %w", err)
	}
	var out struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(resp, &out); err != nil {
		return "", "", fmt.Errorf("create client: decode: %w", err)
	}
	if out.Client.ClientID == "" || out.ClientSecret == "" {
		return "", "", errors.New("create client: answer without client_id or client_secret")
	}
	return out.Client.ClientID, out.ClientSecret, nil
}

// The benchmark's clients may issue as many tokens as the server can sign:
// a load test measures the server, not its per-client limits.
const (
	benchPerMinute = 1_000_000
	benchPerHour   = 60_000_000
)

// serviceClient returns the benchmark's client_credentials client.
func (s *setup) serviceClient(ctx context.Context) (id, secret string, err error) {
	if s.ccID == "" {
		s.ccID, s.ccSecret, err = s.createClient(ctx, map[string]any{
			"name": "bench-" + s.runID, "scope_ids": benchScopes, "access_token_lifetime": 3600,
			"rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour})
		if err != nil {
			return "", "", err
		}
	}
	return s.ccID, s.ccSecret, nil
}

// live returns an access token of the benchmark client.
func (s *setup) live(ctx context.Context) (string, error) {
	if s.liveToken != "" {
		return s.liveToken, nil
	}
	id, secret, err := s.serviceClient(ctx)
	if err != nil {
		return "", err
	}
	if s.liveToken, err = s.token(ctx, id, secret); err != nil {
		return "", fmt.Errorf("live token: %w", err)
	}
	return s.liveToken, nil
}

// userSetup registers the benchmark's user and finds a login request that
// works: the password grant at /oauth2/token with a client that may use
// it, else the original's form login at /api/v1/auth/token.
func (s *setup) userSetup(ctx context.Context) (*userLogin, error) {
	if s.user != nil || s.userErr != nil {
		return s.user, s.userErr
	}
	s.user, s.userErr = s.registerAndLogin(ctx)
	return s.user, s.userErr
}

func (s *setup) registerAndLogin(ctx context.Context) (*userLogin, error) {
	name := "bench-" + s.runID
	reg, err := jsonRequest(s.base, "/api/v1/users/register",
		map[string]string{"username": name, "email": name + "@example.com", "password": benchPassword}, "")
	if err != nil {
		return nil, err
	}
	if _, err := s.call(ctx, reg, http.StatusCreated); err != nil {
		return nil, markUnavailable(fmt.Errorf("register user: %w", err))
	}
	// A client allowed to use the password and refresh grants; a server
	// that knows no grant_types field gets the plain client instead.
	id, secret, err := s.createClient(ctx, map[string]any{
		"name": "bench-user-" + s.runID, "scope_ids": benchScopes, "access_token_lifetime": 3600,
		"grant_types":           []string{"password", "refresh_token", "client_credentials"},
		"rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour})
	if err != nil {
		if id, secret, err = s.serviceClient(ctx); err != nil {
			return nil, err
		}
	}
	form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {benchPassword}}
	candidates := []*userLogin{
		{login: formRequest(s.base, "/oauth2/token", form, id, secret), clientID: id, secret: secret, refreshViaOAuth: true},
		{login: formRequest(s.base, "/api/v1/auth/token", form, "", ""), refreshViaOAuth: true, refreshWithoutAuth: true},
	}
	var errs []error
	for _, c := range candidates {
		body, err := s.call(ctx, c.login, http.StatusOK)
		if err == nil {
			err = checkToken(body)
		}
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, markUnavailable(fmt.Errorf("password login: %w", errors.Join(errs...)))
}

// refreshRequest builds the request that trades rt for new tokens.
func (u *userLogin) refreshRequest(base, rt string) request {
	if !u.refreshViaOAuth {
		r, _ := jsonRequest(base, "/api/v1/auth/refresh", map[string]string{"refresh_token": rt}, "")
		return r
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if u.refreshWithoutAuth {
		return formRequest(base, "/oauth2/token", form, "", "")
	}
	return formRequest(base, "/oauth2/token", form, u.clientID, u.secret)
}

// refreshTokens logs the user in n times and returns one refresh token per
// login, after checking that a refresh works (and choosing how).
func (s *setup) refreshTokens(ctx context.Context, u *userLogin, n int) ([]string, error) {
	login := func() (string, error) {
		body, err := s.call(ctx, u.login, http.StatusOK)
		if err != nil {
			return "", err
		}
		rt, ok := jsonString(body, "refresh_token")
		if !ok || len(rt) == 0 {
			return "", &unavailableError{errors.New("password login returned no refresh_token")}
		}
		return string(rt), nil
	}
	first, err := login()
	if err != nil {
		return nil, err
	}
	// Try the grant at /oauth2/token first, then the original's
	// /api/v1/auth/refresh; the first that answers with a new refresh
	// token is what the scenario uses.
	var errs []error
	probes := []userLogin{*u, *u}
	probes[1].refreshViaOAuth = false
	var next string
	for i, p := range probes {
		if i > 0 { // the failed probe may have spent the token
			if first, err = login(); err != nil {
				return nil, err
			}
		}
		body, err := s.call(ctx, p.refreshRequest(s.base, first), http.StatusOK)
		if err == nil {
			if rt, ok := jsonString(body, "refresh_token"); ok && len(rt) > 0 {
				*u, next = p, string(rt)
				break
			}
			err = errors.New("refresh answer without refresh_token")
		}
		errs = append(errs, err)
	}
	if next == "" {
		return nil, markUnavailable(fmt.Errorf("refresh: %w", errors.Join(errs...)))
	}
	// The rest concurrently, four at a time: each login hashes a password.
	out := make([]string, n)
	out[0] = next
	errs = make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = login()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// unavailableError marks a scenario the server does not offer (yet).
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

func isUnavailable(err error) bool {
	var u *unavailableError
	return errors.As(err, &u)
}

// markUnavailable turns an answer that says the server lacks a feature
// (404, 405, or an OAuth error naming an unsupported grant) into an
// *unavailableError.
func markUnavailable(err error) error {
	var se *StatusError
	if isUnavailable(err) || !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Code == http.StatusNotFound, se.Code == http.StatusMethodNotAllowed,
		strings.Contains(se.Body, "unsupported_grant_type"), strings.Contains(se.Body, "unauthorized_client"):
		return &unavailableError{err}
	}
	return err
}
