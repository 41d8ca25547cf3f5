package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNotFoundHandlerAnswers405WithAllow(t *testing.T) {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux.Handle("POST /oauth2/token", ok)
	mux.Handle("GET /items/{id}", ok)
	mux.Handle("DELETE /items/{id}", ok)
	mux.Handle("/", NotFoundHandler(mux))
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/oauth2/token", 405, "POST"},
		{"PUT", "/oauth2/token", 405, "POST"},
		{"POST", "/items/7", 405, "GET, HEAD, DELETE"},
		{"GET", "/nothing", 404, ""},
		{"POST", "/oauth2/token", 200, ""},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || w.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow=%q; want %d %q", tc.method, tc.path, w.Code, w.Header().Get("Allow"), tc.status, tc.allow)
		}
		if tc.status >= 400 {
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] == "" || body["error_description"] == "" {
				t.Errorf("%s %s: body %s", tc.method, tc.path, w.Body)
			}
		}
	}
}

// The code and the description have one field each: a body member of the
// same name cannot be added beside them.
func TestWithRefusesTheReservedMembers(t *testing.T) {
	for _, key := range []string{"error", "error_description"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("With(%q) did not panic", key)
				}
			}()
			BadRequest("x").With(key, "y")
		}()
	}
	w := httptest.NewRecorder()
	WriteError(w, httptest.NewRequest("GET", "/", nil), nil, BadRequest("Say what you mean").With("details", []string{"a"}))
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error_description"] != "Say what you mean" || body["error"] != "invalid_request" || body["details"] == nil {
		t.Errorf("body %s", w.Body)
	}
}
