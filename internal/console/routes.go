package console

import (
	"errors"
	"net/http"
	"net/url"
)

// pageFunc renders a page for a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, sess *session) error

// actionFunc performs a form submission and says where to go next (also
// when it fails: the API's refusal is shown there as a message).
type actionFunc func(r *http.Request, sess *session) (next string, f *flash, err error)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+Path+"/assets/", assets())
	m.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Path+"/", http.StatusMovedPermanently)
	})
	m.HandleFunc("GET "+Path+"/signin", c.signIn)
	m.HandleFunc("GET "+Path+"/callback", c.callback)
	m.HandleFunc("GET "+Path+"/signed-out", c.signedOut)
	m.Handle("POST "+Path+"/signout", c.action(nil))

	m.Handle("GET "+Path+"/{$}", c.page(c.overview))
	m.Handle("GET "+Path+"/clients", c.page(c.clientList))
	m.Handle("POST "+Path+"/clients", c.action(c.clientCreate))
	m.Handle("GET "+Path+"/clients/{id}", c.page(c.clientDetail))
	m.Handle("POST "+Path+"/clients/{id}", c.action(c.clientUpdate))
	m.Handle("POST "+Path+"/clients/{id}/status", c.action(c.clientStatus))
	m.Handle("POST "+Path+"/clients/{id}/rotate", c.action(c.clientRotate))
	m.Handle("POST "+Path+"/clients/{id}/credentials", c.action(c.clientCredentials))
	m.Handle("POST "+Path+"/clients/{id}/exchange", c.action(c.clientExchange))
	m.Handle("POST "+Path+"/clients/{id}/delete", c.action(c.clientDelete))

	m.Handle("GET "+Path+"/trusts", c.page(c.trustList))
	m.Handle("POST "+Path+"/trusts", c.action(c.trustCreate))
	m.Handle("GET "+Path+"/trusts/{name}", c.page(c.trustDetail))
	m.Handle("POST "+Path+"/trusts/{name}", c.action(c.trustUpdate))
	m.Handle("POST "+Path+"/trusts/{name}/status", c.action(c.trustStatus))
	m.Handle("POST "+Path+"/trusts/{name}/delete", c.action(c.trustDelete))
	m.Handle("POST "+Path+"/trusts/{name}/bindings", c.action(c.bindingCreate))
	m.Handle("POST "+Path+"/trusts/{name}/bindings/{id}/delete", c.action(c.bindingDelete))

	m.Handle("GET "+Path+"/users", c.page(c.userList))
	m.Handle("POST "+Path+"/users", c.action(c.userCreate))
	m.Handle("GET "+Path+"/users/{id}", c.page(c.userDetail))
	m.Handle("POST "+Path+"/users/{id}/status", c.action(c.userStatus))
	m.Handle("POST "+Path+"/users/{id}/unlock", c.action(c.userUnlock))
	m.Handle("POST "+Path+"/users/{id}/roles", c.action(c.userRoles))
	m.Handle("POST "+Path+"/users/{id}/delete", c.action(c.userDelete))

	m.Handle("GET "+Path+"/roles", c.page(c.rolesPage))
	m.Handle("POST "+Path+"/roles", c.action(c.roleCreate))
	m.Handle("POST "+Path+"/roles/{id}/scopes", c.action(c.roleScopes))
	m.Handle("POST "+Path+"/roles/{id}/delete", c.action(c.roleDelete))
	m.Handle("POST "+Path+"/scopes", c.action(c.scopeCreate))
	m.Handle("POST "+Path+"/scopes/{id}/delete", c.action(c.scopeDelete))

	m.Handle("GET "+Path+"/sessions", c.page(c.sessionsPage))
	m.Handle("POST "+Path+"/sessions/cleanup", c.action(c.sessionsCleanup))
	m.Handle("POST "+Path+"/sessions/{id}/end", c.action(c.sessionEnd))

	m.Handle("GET "+Path+"/tenants", c.page(c.tenantsPage))
	m.Handle("POST "+Path+"/tenants", c.action(c.tenantCreate))
	m.Handle("POST "+Path+"/tenants/{name}/status", c.action(c.tenantStatus))
	m.Handle("POST "+Path+"/tenants/{name}/delete", c.action(c.tenantDelete))
	m.Handle("POST "+Path+"/tenants/{name}/administrators", c.action(c.tenantAddAdmin))
	m.Handle("GET "+Path+"/keys", c.page(c.keysPage))
	m.Handle("POST "+Path+"/keys/rotate", c.action(c.keyRotate))

	m.Handle("GET "+Path+"/audit", c.page(c.auditPage))
	m.HandleFunc(Path+"/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "problem", nil, problem{Title: "Not found", Message: "There is no console page here."})
	})
	// Cross-origin form posts are refused before any handler runs; the
	// per-session token below is the second, independent check.
	c.mux = http.NewServeMux()
	c.mux.Handle("/", http.NewCrossOriginProtection().Handler(m))
}

// signInURL is where a browser without a session goes, returning to r's page.
func signInURL(r *http.Request) string {
	ret := r.URL.Path
	if r.Method != http.MethodGet {
		ret = Path + "/"
	} else if r.URL.RawQuery != "" {
		ret += "?" + r.URL.RawQuery
	}
	return Path + "/signin?return=" + url.QueryEscape(ret)
}

// page wraps a page: it needs a session, and shows the API's refusal
// (403 and the rest) as a page with the API's own message.
func (c *Console) page(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := c.sessions.get(r)
		if sess == nil {
			http.Redirect(w, r, signInURL(r), http.StatusSeeOther)
			return
		}
		if err := fn(w, r, sess); err != nil {
			c.fail(w, r, sess, err)
		}
	})
}

// action wraps a form submission: session, CSRF token, then the action,
// then a redirect (post/redirect/get) carrying the outcome as a flash.
// A nil fn is the sign-out form.
func (c *Console) action(fn actionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		sess := c.sessions.get(r)
		if sess == nil {
			http.Redirect(w, r, signInURL(r), http.StatusSeeOther)
			return
		}
		if err := r.ParseForm(); err != nil || !sess.checkCSRF(r) {
			c.render(w, r, http.StatusForbidden, "problem", sess, problem{Title: "Form expired",
				Message: "This form was not sent from the console page it belongs to, or your session changed. Go back, reload the page and try again."})
			return
		}
		if fn == nil {
			_ = c.signOut(w, r, sess)
			return
		}
		next, f, err := fn(r, sess)
		var ae *apiError
		switch {
		case errors.As(err, &ae):
			f = &flash{Kind: "error", Message: describe(ae)}
		case err != nil:
			c.fail(w, r, sess, err)
			return
		}
		if f != nil {
			sess.setFlash(f)
		}
		http.Redirect(w, r, safeReturn(next), http.StatusSeeOther)
	})
}

// describe turns the API's refusal into a sentence for a person.
func describe(e *apiError) string {
	switch e.Status {
	case http.StatusForbidden:
		return "Permission denied: " + e.Error() + "."
	case http.StatusNotFound:
		return "Not found: " + e.Error() + "."
	case http.StatusConflict:
		return "Conflict: " + e.Error() + "."
	case http.StatusTooManyRequests:
		return "Too many requests; wait a moment and try again."
	}
	if e.Status >= 500 {
		return "Permiso could not do this right now (HTTP " + http.StatusText(e.Status) + "). The server log has the details."
	}
	return e.Error()
}

// fail answers an error of a page or action.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var ae *apiError
	switch {
	case errors.Is(err, errSignedOut):
		c.sessions.remove(sess.id)
		c.setCookie(w, sessionCookie, "", -1)
		http.Redirect(w, r, signInURL(r), http.StatusSeeOther)
	case errors.As(err, &ae):
		title := "Request refused"
		if ae.Status == http.StatusForbidden {
			title = "Permission denied"
		}
		status := ae.Status
		if status >= 500 {
			status = http.StatusBadGateway
		}
		c.render(w, r, status, "problem", sess, problem{Title: title, Message: describe(ae)})
	default:
		c.cfg.Logger.ErrorContext(r.Context(), "console page failed", "path", r.URL.Path, "err", err)
		c.render(w, r, http.StatusInternalServerError, "problem", sess, problem{Title: "Something went wrong",
			Message: "The console could not show this page. The server log has the details."})
	}
}

func (c *Console) signedOut(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "signedout", nil, nil)
}

func (c *Console) renderSignInProblem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.render(w, r, status, "problem", nil, problem{Title: "Sign-in failed", Message: msg, SignIn: true})
}

// problem is the data of the problem page.
type problem struct {
	Title, Message string
	SignIn         bool
}
