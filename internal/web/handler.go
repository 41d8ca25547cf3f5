package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// HandlerFunc is an HTTP handler that returns an error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts h to an http.Handler. An *Error in the returned chain is
// written with its status, headers and safe text. Any other error is logged
// with the request id and answered with a 500 that reveals nothing.
func Handle(log *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, log, err)
		}
	})
}

// WriteError writes err as Handle does.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody is listening
	}
	e, ok := AsError(err)
	if !ok {
		if log != nil {
			log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern,
				"request_id", RequestID(r.Context()), "err", err)
		}
		e = &Error{Status: http.StatusInternalServerError, Code: wire.ErrServerError,
			Description: "An internal error occurred; the request id identifies it in the server log"}
	} else if e.Err != nil && e.Status >= 500 && log != nil {
		log.WarnContext(r.Context(), "request failed", "method", r.Method, "route", r.Pattern,
			"request_id", RequestID(r.Context()), "status", e.Status, "err", e.Err)
	}
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusBadRequest {
		w.Header().Set("Cache-Control", "no-store")
	}
	body := make(map[string]any, 2+len(e.Extra))
	for k, v := range e.Extra {
		body[k] = v
	}
	body["error"] = e.Code
	if e.Description != "" {
		body["error_description"] = e.Description
	}
	WriteJSON(w, e.Status, body)
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here; never echo it.
		status = http.StatusInternalServerError
		b = []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// NotFoundHandler answers the requests no route of mux took, in the API's
// envelope. Mount it on mux as "/". A path that mux serves for other
// methods is 405 with Allow (RFC 9110 §15.5.6), not 404; with mux nil,
// every request is 404.
func NotFoundHandler(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if allow := allowedMethods(mux, r); len(allow) > 0 {
			WriteError(w, r, nil, Errorf(http.StatusMethodNotAllowed, wire.ErrMethodNotAllowed, "%s is not allowed on %s; use %s",
				safeMethod(r.Method), safePath(r.URL.Path), strings.Join(allow, " or ")).
				WithHeader("Allow", strings.Join(allow, ", ")))
			return
		}
		WriteError(w, r, nil, Errorf(http.StatusNotFound, wire.ErrNotFound, "No route for %s %s", safeMethod(r.Method), safePath(r.URL.Path)))
	})
}

// allowedMethods lists the methods for which mux has a route of r's path
// other than the catch-all "/".
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	if mux == nil {
		return nil
	}
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	return allow
}

func safeMethod(m string) string {
	if len(m) > 16 {
		m = m[:16]
	}
	return safePath(m)
}

func safePath(p string) string {
	if len(p) > 200 {
		p = p[:200] + "..."
	}
	return strconv.Quote(p)[1 : len(strconv.Quote(p))-1]
}
