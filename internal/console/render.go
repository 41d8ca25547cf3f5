package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pageInfo names each page's title and the navigation entry it belongs to.
var pageInfo = map[string]struct{ title, nav string }{
	"overview":  {"Overview", "overview"},
	"clients":   {"Service clients", "clients"},
	"client":    {"Service client", "clients"},
	"trusts":    {"Trusts", "trusts"},
	"trust":     {"Trust", "trusts"},
	"users":     {"Users", "users"},
	"user":      {"User", "users"},
	"roles":     {"Roles and scopes", "roles"},
	"sessions":  {"Sessions", "sessions"},
	"keys":      {"Signing keys", "keys"},
	"tenants":   {"Tenants", "tenants"},
	"audit":     {"Audit log", "audit"},
	"problem":   {"Problem", ""},
	"signedout": {"Signed out", ""},
}

// navItems are the console's sections, with the scope the API requires for
// each (shown as a hint when the signed-in user lacks it).
var navItems = []struct{ Key, Label, Href, Scope string }{
	{"overview", "Overview", Path + "/", "admin:system"},
	{"clients", "Service clients", Path + "/clients", "admin:clients"},
	{"trusts", "Trusts", Path + "/trusts", "admin:clients"},
	{"users", "Users", Path + "/users", "admin:users"},
	{"roles", "Roles and scopes", Path + "/roles", "admin:roles"},
	{"sessions", "Sessions", Path + "/sessions", "admin:sessions"},
	{"keys", "Signing keys", Path + "/keys", "admin:system"},
	{"audit", "Audit log", Path + "/audit", "admin:audit"},
	{"tenants", "Tenants", Path + "/tenants", scopeTenants},
}

// scopeTenants is the operators' scope: the Tenants entry is shown only to
// those who hold it (it exists only in the default tenant).
const scopeTenants = "admin:tenants"

// view is what every template receives.
type view struct {
	Title    string
	Nav      string
	NavItems any
	User     string
	Scopes   []string
	CSRF     string
	Flash    *flash
	Data     any
}

// Missing reports whether the signed-in user lacks scope.
func (v view) Missing(scope string) bool {
	for _, s := range v.Scopes {
		if s == scope {
			return false
		}
	}
	return true
}

var funcs = template.FuncMap{
	// plural counts things: "1 user", "4 users".
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	},
	"when": func(v any) string {
		switch t := v.(type) {
		case time.Time:
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if t == nil || t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return fmt.Sprint(v)
	},
	"iso": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04")
	},
	"join": func(v []string, sep string) string { return strings.Join(v, sep) },
	"lifetime": func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	},
	"details": func(m map[string]any) string {
		if len(m) == 0 {
			return ""
		}
		var b strings.Builder
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s=%v", k, m[k])
		}
		return b.String()
	},
	"pageURL": func(base string, q url.Values, page int) string {
		v := url.Values{}
		for k, vv := range q {
			v[k] = vv
		}
		v.Set("page", strconv.Itoa(page))
		return base + "?" + v.Encode()
	},
	"add": func(a, b int) int { return a + b },
	// authMethods and tlsFields are the choices of the credential forms.
	"authMethods": func() any { return authMethods },
	"tlsFields":   func() []string { return tlsFields },
	"contains":    slices.Contains[[]string],
}

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for name := range pageInfo {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page name with data. The page is rendered to a buffer
// first, so a template error becomes a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, sess *session, data any) {
	info := pageInfo[name]
	v := view{Title: info.title, Nav: info.nav, NavItems: navItems[:len(navItems)-1], Data: data}
	if p, ok := data.(problem); ok {
		v.Title = p.Title
	}
	if sess != nil {
		v.User, v.Scopes, v.CSRF, v.Flash = sess.username, sess.scopes, sess.csrf, sess.takeFlash()
		if slices.Contains(sess.scopes, scopeTenants) {
			v.NavItems = navItems
		}
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		c.cfg.Logger.ErrorContext(r.Context(), "console template", "page", name, "err", err)
		http.Error(w, "The console could not render this page.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
