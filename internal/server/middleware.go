package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/web"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe recovers panics, logs each request (successes at debug level, so
// a token storm does not become a log storm) and reports it to onDone.
func observe(log *slog.Logger, onDone func(r *http.Request, status int, d time.Duration), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "handler panic", "route", r.Pattern, "request_id", web.RequestID(r.Context()), "panic", p)
				if rec.status == 0 {
					web.WriteError(rec, r, nil, &web.Error{Status: 500, Code: "server_error", Description: "An internal error occurred"})
				}
			}
			d := time.Since(start)
			level := slog.LevelDebug
			switch {
			case rec.status >= 500:
				level = slog.LevelWarn
			case rec.status >= 400:
				level = slog.LevelInfo
			}
			if log.Enabled(r.Context(), level) {
				log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("route", r.Pattern),
					slog.Int("status", rec.status), slog.Duration("duration", d),
					slog.String("request_id", web.RequestID(r.Context())), slog.String("ip", web.ClientIP(r.Context())))
			}
			if onDone != nil {
				onDone(r, rec.status, d)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// securityHeaders sets the headers every response carries. Pages that
// need a different Content-Security-Policy set their own. The values are
// built once: setting them costs no allocation per request (each slice has
// len == cap, so a handler's Add cannot write into a shared array).
func securityHeaders(hsts bool, next http.Handler) http.Handler {
	one := func(v string) []string { return []string{v} }
	fixed := map[string][]string{
		"X-Content-Type-Options":  one("nosniff"),
		"X-Frame-Options":         one("DENY"),
		"X-Xss-Protection":        one("1; mode=block"),
		"Referrer-Policy":         one("strict-origin-when-cross-origin"),
		"Permissions-Policy":      one("geolocation=(), microphone=(), camera=()"),
		"Content-Security-Policy": one("default-src 'none'; frame-ancestors 'none'"),
	}
	if hsts {
		fixed["Strict-Transport-Security"] = one("max-age=31536000; includeSubDomains")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range fixed {
			h[k] = v
		}
		next.ServeHTTP(w, r)
	})
}

// cors allows the configured origins, and only them, to call the API from
// a browser. Bearer tokens travel in headers, so credentials (cookies) are
// never allowed cross-origin.
func cors(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !slices.Contains(origins, origin) {
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				w.Header().Add("Vary", "Origin")
				w.WriteHeader(http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After, X-Request-ID, DPoP-Nonce")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-ID, DPoP")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitBodies bounds every request body; handlers bound further.
func limitBodies(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			web.WriteError(w, r, nil, web.Errorf(http.StatusRequestEntityTooLarge, "request_too_large", "Request body exceeds %d bytes", max))
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, max)
		}
		if strings.ContainsRune(r.URL.Path, 0) {
			web.WriteError(w, r, nil, web.BadRequest("Invalid path"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
