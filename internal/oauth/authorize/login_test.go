package authorize_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/internal/store"
)

// openLogin loads the login page for the public client and returns the
// browser and the page.
func (f *fixture) openLogin(state string) (*http.Client, *page) {
	f.t.Helper()
	c := f.browser()
	v := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "state": {state},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	p := f.get(c, f.authURL(v))
	if p.status != 200 {
		f.t.Fatalf("GET authorize: %d", p.status)
	}
	p.form.Set("username", "alice")
	p.form.Set("password", password)
	return c, p
}

// TestLoginCSRF checks that the form is refused without the matching
// token, cookie and untampered pending request, and from another origin.
func TestLoginCSRF(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		edit   func(c *http.Client, form url.Values, h http.Header)
		status int
	}{
		{"missing token", func(_ *http.Client, v url.Values, _ http.Header) { v.Del("csrf_token") }, 403},
		{"wrong token", func(_ *http.Client, v url.Values, _ http.Header) {
			v.Set("csrf_token", strings.Repeat("A", 43))
		}, 403},
		{"no cookie", func(c *http.Client, _ url.Values, _ http.Header) { c.Jar, _ = newJar() }, 403},
		{"another browser's token", func(_ *http.Client, v url.Values, _ http.Header) {
			_, other := f.openLogin("x")
			v.Set("csrf_token", other.form.Get("csrf_token"))
		}, 403},
		{"another browser's request", func(_ *http.Client, v url.Values, _ http.Header) {
			_, other := f.openLogin("x")
			v.Set("request", other.form.Get("request"))
		}, 403},
		{"tampered request", func(_ *http.Client, v url.Values, _ http.Header) {
			r := v.Get("request")
			v.Set("request", "e30"+r[3:])
		}, 403},
		{"cross-origin post", func(_ *http.Client, _ url.Values, h http.Header) {
			h.Set("Origin", "http://evil.example")
			h.Set("Sec-Fetch-Site", "cross-site")
		}, 403},
		{"valid", func(*http.Client, url.Values, http.Header) {}, 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := f.openLogin("s")
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			tt.edit(c, p.form, h)
			req, _ := http.NewRequest("POST", f.srv.URL+p.action, strings.NewReader(p.form.Encode()))
			req.Header = h
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := readPage(t, res)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %.300s", got.status, tt.status, got.body)
			}
			if tt.status == 403 && (got.header.Get("Location") != "" || !strings.Contains(got.body, "could not be accepted")) {
				t.Errorf("403 is not the error page: Location=%q", got.header.Get("Location"))
			}
		})
	}
}

// TestLoginFailures checks the messages for each Authenticate outcome and
// that wrong username and wrong password read the same.
func TestLoginFailures(t *testing.T) {
	f := newFixture(t)
	f.createUser("bob", false)
	carol := f.createUser("carol", true)
	until := time.Now().Add(10 * time.Minute)
	if _, err := f.db.UpdateUser(context.Background(), carol.ID, func(u store.User) (store.User, error) {
		u.LockedUntil = &until
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	const wrong = "The username or password is incorrect."
	tests := []struct {
		name, user, pw string
		status         int
		want           string
	}{
		{"wrong password", "alice", "nope", 200, wrong},
		{"unknown user", "mallory", password, 200, wrong},
		{"empty password", "alice", "", 400, "Enter your username"},
		{"disabled", "bob", password, 403, "disabled"},
		{"locked", "carol", password, 423, "temporarily locked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p := f.openLogin("s")
			p.form.Set("username", tt.user)
			p.form.Set("password", tt.pw)
			got := f.post(c, p.action, p.form)
			if got.status != tt.status || !strings.Contains(got.body, tt.want) {
				t.Fatalf("status %d, want %d; body has %q: %v", got.status, tt.status, tt.want, strings.Contains(got.body, tt.want))
			}
			if !strings.Contains(got.body, `aria-describedby="login-error"`) || !strings.Contains(got.body, `role="alert"`) {
				t.Error("the error is not linked to the inputs")
			}
			if strings.Contains(got.body, tt.pw) && tt.pw != "" {
				t.Error("the password is echoed")
			}
			// The re-rendered form still works.
			got.form.Set("username", "alice")
			got.form.Set("password", password)
			if again := f.post(c, got.action, got.form); again.status != 303 {
				t.Errorf("retry after failure: %d", again.status)
			}
		})
	}
}

// TestLoginCancel sends the user back with access_denied.
func TestLoginCancel(t *testing.T) {
	f := newFixture(t)
	c, p := f.openLogin("keep-me")
	p.form.Set("action", "cancel")
	q := location(t, f.post(c, p.action, p.form)).Query()
	if q.Get("error") != "access_denied" || q.Get("state") != "keep-me" || q.Get("code") != "" {
		t.Errorf("cancel redirect query = %v", q)
	}
}

// TestLoginFormExpires refuses a form submitted after FormLifetime.
func TestLoginFormExpires(t *testing.T) {
	f := newFixture(t)
	c, p := f.openLogin("s")
	f.clock.Add(16 * time.Minute)
	got := f.post(c, p.action, p.form)
	if got.status != 400 || !strings.Contains(got.body, "expired") || got.header.Get("Location") != "" {
		t.Errorf("expired form: %d %.200s", got.status, got.body)
	}
}

// TestLoginClientDisabledMeanwhile re-checks the client when the form is
// submitted.
func TestLoginClientDisabledMeanwhile(t *testing.T) {
	f := newFixture(t)
	c, p := f.openLogin("s")
	if _, err := f.db.UpdateClient(context.Background(), "spa", func(c store.Client) (store.Client, error) {
		c.Active = false
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := f.post(c, p.action, p.form); got.status != 400 || got.header.Get("Location") != "" {
		t.Errorf("disabled client: %d Location=%q", got.status, got.header.Get("Location"))
	}
}
