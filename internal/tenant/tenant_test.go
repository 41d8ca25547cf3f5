package tenant

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	good := []string{"a", "acme", "acme-corp", "a1", "0", strings.Repeat("a", 63)}
	bad := []string{"", "default", "Acme", "-acme", "acme-", "a_b", "a.b", "a/b", "a b", "ä", strings.Repeat("a", 64), "t/acme", ".."}
	for _, n := range good {
		if err := ValidName(n); err != nil {
			t.Errorf("ValidName(%q) = %v", n, err)
		}
	}
	for _, n := range bad {
		if ValidName(n) == nil {
			t.Errorf("ValidName(%q) accepted", n)
		}
	}
}

func TestIssuer(t *testing.T) {
	tests := []struct{ base, name, want string }{
		{"https://auth.example.com", "acme", "https://auth.example.com/t/acme"},
		{"https://auth.example.com/", "acme", "https://auth.example.com/t/acme"},
		{"https://auth.example.com", DefaultName, "https://auth.example.com"},
		{"https://auth.example.com/", "", "https://auth.example.com"},
	}
	for _, tt := range tests {
		if got := Issuer(tt.base, tt.name); got != tt.want {
			t.Errorf("Issuer(%q, %q) = %q, want %q", tt.base, tt.name, got, tt.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		path     string
		ok       bool
		name, to string
	}{
		{"/", true, "", "/"},
		{"/oauth2/token", true, "", "/oauth2/token"},
		{"/api/v1/roles/", true, "", "/api/v1/roles/"},
		{"/t/acme/oauth2/token", true, "acme", "/oauth2/token"},
		{"/t/acme/api/v1/roles/", true, "acme", "/api/v1/roles/"},
		{"/t/acme", true, "acme", "/"},
		{"/t/acme/", true, "acme", "/"},
		{"/t/acme/.well-known/openid-configuration", true, "acme", "/.well-known/openid-configuration"},
		{"/.well-known/oauth-authorization-server", true, "", "/.well-known/oauth-authorization-server"},
		{"/.well-known/oauth-authorization-server/t/acme", true, "acme", "/.well-known/oauth-authorization-server"},
		{"/.well-known/openid-configuration/t/acme", true, "acme", "/.well-known/openid-configuration"},
		{"/tenants", true, "", "/tenants"},
		// Refused: they are not clean, or name no tenant.
		{"", false, "", ""},
		{"oauth2/token", false, "", ""},
		{"/t", false, "", ""},
		{"/t/", false, "", ""},
		{"/t//oauth2/token", false, "", ""},
		{"/t/a/../b/oauth2/token", false, "", ""},
		{"/t/a/./oauth2/token", false, "", ""},
		{"/t/a//oauth2/token", false, "", ""},
		{"/t/a/oauth2/..", false, "", ""},
		{"/t/../oauth2/token", false, "", ""},
		{"/../t/a/oauth2/token", false, "", ""},
		{"/x/../t/a/oauth2/token", false, "", ""},
		{"/.well-known/oauth-authorization-server/t/", false, "", ""},
		{"/.well-known/oauth-authorization-server/t/a/b", false, "", ""},
		{"/.well-known/oauth-authorization-server/t/a/", false, "", ""},
	}
	for _, tt := range tests {
		r, ok := Split(tt.path)
		if ok != tt.ok || (ok && (r.Name != tt.name || r.Path != tt.to)) {
			t.Errorf("Split(%q) = %+v, %v; want {%q %q}, %v", tt.path, r, ok, tt.name, tt.to, tt.ok)
		}
	}
}

// TestSplitDecodedPaths checks what Split sees of encoded paths: net/http
// decodes %2F and %2E before routing, so an encoded traversal is refused
// as the plain one is, and an encoded slash inside a name splits it.
func TestSplitDecodedPaths(t *testing.T) {
	tests := []struct {
		raw      string
		ok       bool
		name, to string
	}{
		{"/t/a/%2e%2e/b/oauth2/token", false, "", ""},
		{"/t/a%2F..%2Fb/oauth2/token", false, "", ""},
		{"/t/a%2Fb/oauth2/token", true, "a", "/b/oauth2/token"},
		{"/t/%61cme/oauth2/token", true, "acme", "/oauth2/token"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.raw, nil)
		r, ok := Split(req.URL.Path)
		if ok != tt.ok || (ok && (r.Name != tt.name || r.Path != tt.to)) {
			t.Errorf("Split(%q → %q) = %+v, %v; want {%q %q}, %v", tt.raw, req.URL.Path, r, ok, tt.name, tt.to, tt.ok)
		}
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("FromContext of an empty context found a tenant")
	}
	in := Info{ID: "id", Name: "acme", Issuer: "https://auth.example.com/t/acme"}
	got, ok := FromContext(NewContext(context.Background(), in))
	if !ok || got != in {
		t.Fatalf("FromContext = %+v, %v", got, ok)
	}
	if got.Default() || !(Info{ID: "default"}).Default() {
		t.Fatal("Default() is wrong")
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"/t/acme/oauth2/token", "/t/a/../b", "/.well-known/openid-configuration/t/a", "/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, ok := Split(p)
		if !ok {
			return
		}
		if !strings.HasPrefix(r.Path, "/") {
			t.Fatalf("Split(%q).Path = %q does not start with /", p, r.Path)
		}
		if strings.Contains(r.Name, "/") {
			t.Fatalf("Split(%q).Name = %q holds a slash", p, r.Name)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("Split accepted %q with a dot segment", p)
			}
		}
	})
}
