package authorize

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/web"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/login.css
var stylesheet []byte

var pages = template.Must(template.New("").ParseFS(templateFS, "templates/*.html"))

// pageError is a failure shown to the user as an HTML page, never
// redirected: the request could not be trusted to name a safe place to
// send the browser.
type pageError struct {
	status int
	title  string
	detail string
	err    error // internal cause, for the log only
}

func (e *pageError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%d %s: %v", e.status, e.title, e.err)
	}
	return fmt.Sprintf("%d %s", e.status, e.title)
}

func (e *pageError) Unwrap() error { return e.err }

func errBadRequestPage(format string, args ...any) *pageError {
	return &pageError{status: http.StatusBadRequest, title: "This sign-in link is not valid",
		detail: fmt.Sprintf(format, args...)}
}

func errForbidden(cause error) *pageError {
	return &pageError{status: http.StatusForbidden, title: "The form could not be accepted",
		detail: "The sign-in form expired or did not come from this site. Return to the application and start again.", err: cause}
}

func errUnavailable(cause error) *pageError {
	return &pageError{status: http.StatusServiceUnavailable, title: "Sign-in is temporarily unavailable",
		detail: "Please try again in a moment.", err: cause}
}

// pageFunc is a page handler that returns its failure.
type pageFunc func(w http.ResponseWriter, r *http.Request) error

// page adapts f: a *pageError becomes its page, anything else is logged
// and shown as a page that reveals nothing but the request id.
func (h *Handler) page(f pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			h.writePage(w, r, err)
		}
	})
}

func (h *Handler) writePage(w http.ResponseWriter, r *http.Request, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		if we, ok := web.AsError(err); ok && we.Status == http.StatusServiceUnavailable {
			pe = errUnavailable(err)
		} else {
			pe = &pageError{status: http.StatusInternalServerError, title: "Something went wrong",
				detail: "The server could not complete the sign-in.", err: err}
		}
	}
	if pe.err != nil {
		level := slog.LevelWarn
		if pe.status >= 500 {
			level = slog.LevelError
		}
		h.cfg.Logger.Log(r.Context(), level, "authorize page failed",
			"status", pe.status, "request_id", web.RequestID(r.Context()), "err", pe.err)
	}
	if pe.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	h.render(w, pe.status, "error.html", map[string]any{
		"Title": pe.title, "Detail": pe.detail, "RequestID": web.RequestID(r.Context()),
		"Stylesheet": PathStylesheet,
	}, "")
}

// render writes a template with the page's own headers. formTarget is the
// redirect URI the form may end at, added to form-action because browsers
// apply form-action to the redirect that follows a form submission.
func (h *Handler) render(w http.ResponseWriter, status int, name string, data any, formTarget string) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		// Only a programming error gets here; the templates are fixed.
		h.cfg.Logger.Error("render page", "template", name, "err", err)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", contentSecurityPolicy(formTarget))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// contentSecurityPolicy allows the stylesheet and same-origin form posts,
// and nothing else: no script, no framing, no plug-ins.
func contentSecurityPolicy(formTarget string) string {
	formAction := "'self'"
	if src := cspSource(formTarget); src != "" {
		formAction += " " + src
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// cspSource turns a redirect URI into a CSP source expression: its origin,
// or for a private-use scheme (RFC 8252 §7.1) the scheme alone. Anything
// with characters that could break out of the header is left out.
func cspSource(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme == "" {
		return ""
	}
	src := u.Scheme + ":"
	if u.Host != "" {
		src = u.Scheme + "://" + u.Host
	}
	for _, c := range src {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-+:/[]", c)) {
			return ""
		}
	}
	return src
}

func serveStylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("Content-Length", strconv.Itoa(len(stylesheet)))
	w.Write(stylesheet)
}
