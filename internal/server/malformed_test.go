package server_test

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// apiRoutes reads the patterns internal/api registers (a.handle(mux,
// "METHOD /path", ...)) from its source, so a route added later is
// covered without editing this test.
func apiRoutes(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "api")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var routes []string
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) < 2 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "handle" {
				return true
			}
			if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if p, err := strconv.Unquote(lit.Value); err == nil {
					routes = append(routes, p)
				}
			}
			return true
		})
	}
	if len(routes) < 50 {
		t.Fatalf("found %d routes in internal/api; the pattern reader no longer matches its source", len(routes))
	}
	return routes
}

// TestMalformedRequestsNeverFail sends every /api/v1 route odd path values
// and broken, mistyped, oversized and NUL-bearing bodies, with an admin
// token, a forged one and none: each answer is a client error (or success)
// with a JSON error body, never a 5xx or an internal detail.
func TestMalformedRequestsNeverFail(t *testing.T) {
	ts := newTestServer(t, nil)
	admin := ts.adminToken()
	param := regexp.MustCompile(`\{[^}]+\}`)
	values := []string{"x", "00000000-0000-0000-0000-000000000000", "%00", "..%2F..", strings.Repeat("a", 300), "%E2%80%AE", "-1"}
	bodies := []string{"", "{", "[]", "null", "1", `"s"`,
		`{"name":[1],"scope_ids":"x","role_ids":{"a":1},"is_active":"yes","client_id":123,"password":null,"email":5}`,
		`{"name":"` + strings.Repeat("x", 100_000) + `"}`,
		`{"scope_ids":[` + strings.Repeat(`"s",`, 5000) + `"s"]}`,
		`{"name":"a\u0000b","username":"a\u0000b","email":"a\u0000@b"}`,
		`{"grace_period_seconds":-5,"access_token_lifetime":1e308,"per_minute":-1}`,
		`{"name":"ok","redirect_uris":["javascript:alert(1)"],"audiences":["::"],"jwks_uri":"http://127.0.0.1/"}`,
	}
	leaks := []string{"goroutine ", "panic", "runtime error", "sql:", "SQLSTATE", ".go:"}
	check := func(method, target, body, auth string, r *response) {
		t.Helper()
		text := string(r.Body)
		bad := r.Status >= 500 && r.Status != http.StatusServiceUnavailable
		for _, l := range leaks {
			bad = bad || strings.Contains(text, l)
		}
		if r.Status >= 400 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			bad = true
		}
		if bad {
			t.Errorf("%s %.80s body %.40q auth %.10q: %d %s %.200s", method, target, body, auth, r.Status,
				r.Header.Get("Content-Type"), text)
		}
	}
	// The OAuth endpoints and the original's token endpoints take forms.
	forms := []string{"", "grant_type=", "%zz=1", "grant_type=client_credentials&scope=" + strings.Repeat("a", 10_000),
		"grant_type=password&username=%00&password=x", "grant_type=refresh_token&refresh_token=x",
		"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=x&subject_token_type=y",
		"grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=a.b.c",
		"grant_type=client_credentials&grant_type=password", "token=x&token_type_hint=refresh_token"}
	for _, path := range []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke", "/api/v1/auth/token", "/api/v1/auth/refresh"} {
		for _, form := range forms {
			for _, auth := range []string{"Basic " + basic(ts.AdminID, ts.Secret), "Basic !!!", "Basic " + basic("a", ""), "DPoP x", ""} {
				h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
				if auth != "" {
					h.Set("Authorization", auth)
				}
				check("POST", path, form, auth, ts.do("POST", path, h, strings.NewReader(form)))
			}
		}
	}
	for _, route := range apiRoutes(t) {
		method, path, _ := strings.Cut(route, " ")
		for _, v := range values {
			target := param.ReplaceAllLiteralString(strings.TrimSuffix(path, "{$}"), v)
			target = strings.ReplaceAll(target, "...", "")
			send := []string{""}
			if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
				send = bodies
			}
			for _, body := range send {
				for _, auth := range []string{"Bearer " + admin, "Bearer x.y.z", ""} {
					h := http.Header{"Content-Type": {"application/json"}}
					if auth != "" {
						h.Set("Authorization", auth)
					}
					check(method, target, body, auth, ts.do(method, target, h, strings.NewReader(body)))
				}
			}
		}
	}
}

func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(id + ":" + secret))
}
