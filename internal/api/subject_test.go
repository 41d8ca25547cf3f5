package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestTokenWithoutSubjectIsRefused: a token signed with Permiso's own key
// but naming no subject cannot be attributed or checked against a client or
// user: the API refuses it and introspection calls it inactive.
func TestTokenWithoutSubjectIsRefused(t *testing.T) {
	f := newAdminFixture(t)
	claims := func(sub string) wire.Claims {
		return wire.Claims{Subject: sub, ClientID: f.Admin.ID, Audience: wire.Audience{"https://permiso.test"},
			Scope: "admin:clients", Scopes: []string{"admin:clients"}, Type: wire.ClaimTypeService}
	}
	with, _, err := f.Tokens.Mint(claims(f.Admin.ID), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	without, _, err := f.Tokens.Mint(claims(""), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r := f.do("GET", "/api/v1/service-clients", with, nil); r.Status != http.StatusOK {
		t.Fatalf("the same token with a subject: %d %s", r.Status, r.Body)
	}
	r := f.do("GET", "/api/v1/service-clients", without, nil)
	if r.Status != http.StatusUnauthorized || r.str("error") != "invalid_token" {
		t.Fatalf("token without sub: %d %s", r.Status, r.Body)
	}
	for _, tok := range []string{with, without} {
		req, _ := http.NewRequest("POST", f.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(f.Admin.ID, f.Admin.Secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Active bool `json:"active"`
		}
		decodeBody(t, res, &body)
		if body.Active != (tok == with) {
			t.Fatalf("introspection of the token with sub=%v: active %v", tok == with, body.Active)
		}
	}
}

func decodeBody(t *testing.T, res *http.Response, v any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("decode %d: %v", res.StatusCode, err)
	}
}
