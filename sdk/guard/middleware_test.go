package guard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestRequire(t *testing.T) {
	iss, g := newTestGuard(t, nil)
	realm := `Bearer realm="` + testAudience + `"`
	token := func(trusted bool, scopes ...string) string {
		c := iss.Claims("svc", testAudience, scopes...)
		c.IsTrusted = &trusted
		return "Bearer " + iss.Mint(c)
	}
	tests := []struct {
		name       string
		auth       string
		reqs       []Requirement
		wantStatus int
		wantChall  string
		wantBody   map[string]any
	}{
		{name: "no token", reqs: nil, wantStatus: 401, wantChall: realm},
		{name: "basic scheme", auth: "Basic dXNlcjpwYXNz", wantStatus: 401, wantChall: realm},
		{name: "invalid token", auth: "Bearer abc.def.ghi", wantStatus: 401,
			wantChall: realm + `, error="invalid_token"`,
			wantBody:  map[string]any{"error": "invalid_token", "error_description": "The access token is invalid or expired"}},
		{name: "authenticated only", auth: token(false), wantStatus: 200},
		{name: "lower-case scheme", auth: strings.Replace(token(false, "trade:read"), "Bearer", "bearer", 1),
			reqs: []Requirement{AllOf("trade:read")}, wantStatus: 200},
		{name: "all-of met", auth: token(false, "trade:read", "account:read"),
			reqs: []Requirement{AllOf("trade:read", "account:read")}, wantStatus: 200},
		{name: "all-of missing one", auth: token(false, "trade:read"),
			reqs: []Requirement{AllOf("trade:read", "account:read")}, wantStatus: 403,
			wantChall: realm + `, error="insufficient_scope", scope="trade:read account:read"`,
			wantBody: map[string]any{"error": "insufficient_scope", "error_description": "Missing required scopes: account:read",
				"required_scopes": []any{"trade:read", "account:read"}, "missing_scopes": []any{"account:read"}}},
		{name: "any-of met by second", auth: token(false, "market:data"),
			reqs: []Requirement{AnyOf("trade:read", "market:data")}, wantStatus: 200},
		{name: "any-of none", auth: token(false, "account:read"),
			reqs: []Requirement{AnyOf("trade:read", "market:data")}, wantStatus: 403,
			wantChall: realm + `, error="insufficient_scope", scope="trade:read market:data"`},
		{name: "implied admin:X gives read:X", auth: token(false, "admin:trades"),
			reqs: []Requirement{AllOf("read:trades", "write:trades")}, wantStatus: 200},
		{name: "implied admin:system gives service:mt5", auth: token(false, "admin:system"),
			reqs: []Requirement{AllOf("service:mt5")}, wantStatus: 200},
		{name: "wildcards grant nothing", auth: token(false, "admin:*"),
			reqs: []Requirement{AllOf("admin:system")}, wantStatus: 403,
			wantChall: realm + `, error="insufficient_scope", scope="admin:system"`},
		{name: "trusted met", auth: token(true, "admin:system"),
			reqs: []Requirement{AllOf("admin:system"), Trusted()}, wantStatus: 200},
		{name: "trusted missing", auth: token(false, "admin:system"),
			reqs: []Requirement{AllOf("admin:system"), Trusted()}, wantStatus: 403,
			wantBody: map[string]any{"error": "forbidden", "error_description": "Trusted client required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := g.Require(tt.reqs...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if Subject(r.Context()) != "svc" || ClientID(r.Context()) != "svc" || TokenID(r.Context()) == "" {
					t.Errorf("claims in context: %+v", r.Context().Value(authKey{}))
				}
				w.WriteHeader(http.StatusOK)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantChall {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantChall)
			}
			if tt.wantBody != nil {
				var got map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("body %q: %v", rec.Body, err)
				}
				for k, v := range tt.wantBody {
					if gb, _ := json.Marshal(got[k]); string(gb) != mustJSON(t, v) {
						t.Errorf("body[%s] = %s, want %s", k, gb, mustJSON(t, v))
					}
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCheckDenial(t *testing.T) {
	c := &wire.Claims{Scopes: []string{"trade:read"}}
	err := Check(c, AllOf("trade:read"), AllOf("trade:open", "trade:close"))
	var d *Denial
	if !errors.As(err, &d) {
		t.Fatalf("Check = %v, want *Denial", err)
	}
	if !slices.Equal(d.Missing, []string{"trade:open", "trade:close"}) || d.Code != wire.ErrInsufficientScope {
		t.Fatalf("denial = %+v", d)
	}
	if err := Check(c, AnyOf()); err != nil {
		t.Fatalf("empty AnyOf: %v", err)
	}
}

func TestIntrospectionMode(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	iss.AddClient("mt5-api", testissuer.Client{Secret: "s3cret"})
	clk := &fakeClock{now: time.Now()}
	g, err := New(context.Background(), Config{
		Issuer: iss.URL, Audience: testAudience, Mode: ModeIntrospection,
		ClientID: "mt5-api", ClientSecret: "s3cret", IntrospectionCacheTTL: 50 * time.Millisecond, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	c := iss.Claims("svc", testAudience, "trade:read")
	tok := iss.Mint(c)
	got, err := g.Verify(ctx, tok)
	if err != nil || got.Subject != "svc" || !slices.Equal(got.Scopes, []string{"trade:read"}) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if _, err := g.Verify(ctx, iss.Mint(iss.Claims("svc", "https://other"))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("other audience: err = %v", err)
	}
	if _, err := g.Verify(ctx, iss.Mint(iss.Claims("", testAudience, "trade:read"))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("active, without sub: err = %v", err)
	}
	iss.Revoke(c.ID, c.Expiry)
	clk.Add(time.Second) // past the introspection cache TTL
	if _, err := g.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("revoked token after cache TTL: err = %v", err)
	}
	if !g.Ready() {
		t.Fatal("Ready = false after introspection")
	}
}
