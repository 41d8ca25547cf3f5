package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/console"
	"github.com/permiso-auth/permiso/internal/oauth"
)

// browserPath reports whether p is a page a browser visits (the console,
// the login page and its stylesheet, the authorization endpoint), whose
// links and redirects a tenant's prefix must be put in front of.
func browserPath(p string) bool {
	return p == console.Path || strings.HasPrefix(p, console.Path+"/") || strings.HasPrefix(p, "/oauth2/login") ||
		strings.HasPrefix(p, "/oauth2/assets/") || p == oauth.PathAuthorize
}

// prefixWriter serves a tenant's browser pages, which are written for the
// root (/admin/..., /oauth2/login), under the tenant's prefix (/t/acme):
// a redirect to a path, a cookie's Path, and the href, src and action
// attributes of an HTML page get the prefix on the way out. Without it a
// link in acme's console would lead to the default tenant's.
type prefixWriter struct {
	http.ResponseWriter
	prefix string
	status int
	html   bool
	buf    bytes.Buffer
}

func (p *prefixWriter) WriteHeader(code int) {
	if p.status != 0 {
		return
	}
	p.status = code
	h := p.Header()
	if loc := h.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "//") {
		h.Set("Location", p.prefix+loc)
	}
	if cs := h.Values("Set-Cookie"); len(cs) > 0 {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c
			// A __Host- cookie must have Path=/ (it holds no tenant's
			// secret: the login page's CSRF nonce).
			if !strings.HasPrefix(c, "__Host-") {
				out[i] = strings.Replace(c, "; Path=/", "; Path="+p.prefix+"/", 1)
			}
		}
		h["Set-Cookie"] = out
	}
	if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		p.html = true
		h.Del("Content-Length")
		return
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.WriteHeader(http.StatusOK)
	}
	if p.html {
		return p.buf.Write(b)
	}
	return p.ResponseWriter.Write(b)
}

// finish writes a buffered page with its links prefixed.
func (p *prefixWriter) finish() {
	if !p.html {
		return
	}
	body := p.buf.Bytes()
	for _, attr := range [...]string{`href="/`, `src="/`, `action="/`} {
		body = bytes.ReplaceAll(body, []byte(attr), []byte(attr[:len(attr)-1]+p.prefix+"/"))
	}
	p.ResponseWriter.Header().Set("Content-Length", strconv.Itoa(len(body)))
	p.ResponseWriter.WriteHeader(p.status)
	p.ResponseWriter.Write(body)
}

func (p *prefixWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
