package authorize_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// code signs alice in for client "spa" with the given PKCE verifier and
// extra parameters, and returns the code.
func (f *fixture) code(verifier string, extra url.Values) string {
	f.t.Helper()
	v := url.Values{"client_id": {"spa"}, "response_type": {"code"}, "redirect_uri": {f.callback},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for k, vv := range extra {
		v[k] = vv
	}
	loc := location(f.t, f.signIn(f.browser(), f.authURL(v), "alice", password))
	return loc.Query().Get("code")
}

type tokenAnswer struct {
	status int
	body   map[string]any
}

func (f *fixture) exchange(v url.Values, id, secret string) tokenAnswer {
	f.t.Helper()
	if secret == "" && id != "" {
		v.Set("client_id", id)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/oauth2/token", strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(id, secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	a := tokenAnswer{status: res.StatusCode}
	json.NewDecoder(res.Body).Decode(&a.body)
	return a
}

// TestCodeExchange checks every binding of a code at the token endpoint.
func TestCodeExchange(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name      string
		extra     url.Values // authorization request
		edit      func(v url.Values)
		id, sec   string
		status    int
		wantError string
	}{
		{name: "good", id: "spa", status: 200},
		{name: "wrong verifier", id: "spa", edit: func(v url.Values) { v.Set("code_verifier", oauth2.GenerateVerifier()) }, status: 400, wantError: "invalid_grant"},
		{name: "missing verifier", id: "spa", edit: func(v url.Values) { v.Del("code_verifier") }, status: 400, wantError: "invalid_grant"},
		{name: "short verifier", id: "spa", edit: func(v url.Values) { v.Set("code_verifier", "abc") }, status: 400, wantError: "invalid_grant"},
		{name: "verifier as challenge (plain)", id: "spa", edit: func(v url.Values) {
			v.Set("code_verifier", oauth2.S256ChallengeFromVerifier(verifier))
		}, status: 400, wantError: "invalid_grant"},
		{name: "wrong redirect_uri", id: "spa", edit: func(v url.Values) { v.Set("redirect_uri", "http://127.0.0.1:9/cb") }, status: 400, wantError: "invalid_grant"},
		{name: "missing redirect_uri", id: "spa", edit: func(v url.Values) { v.Del("redirect_uri") }, status: 400, wantError: "invalid_grant"},
		{name: "another client", id: "webapp", sec: f.confSec, status: 400, wantError: "invalid_grant"},
		{name: "public client with a secret", id: "spa", sec: "pms_x", status: 401, wantError: "invalid_client"},
		{name: "unknown code", id: "spa", edit: func(v url.Values) { v.Set("code", "pmc_unknown") }, status: 400, wantError: "invalid_grant"},
		{name: "missing code", id: "spa", edit: func(v url.Values) { v.Del("code") }, status: 400, wantError: "invalid_request"},
		{name: "resource subset", id: "spa", extra: url.Values{"resource": {"https://mt5.example"}},
			edit: func(v url.Values) { v.Set("resource", "https://mt5.example") }, status: 200},
		{name: "resource not requested", id: "spa", edit: func(v url.Values) { v.Set("resource", "https://other.example") }, status: 400, wantError: "invalid_target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{"grant_type": {"authorization_code"}, "code": {f.code(verifier, tt.extra)},
				"redirect_uri": {f.callback}, "code_verifier": {verifier}}
			if tt.edit != nil {
				tt.edit(v)
			}
			a := f.exchange(v, tt.id, tt.sec)
			if a.status != tt.status || (tt.wantError != "" && a.body["error"] != tt.wantError) {
				t.Fatalf("status %d %v, want %d %s", a.status, a.body, tt.status, tt.wantError)
			}
			if tt.status == 200 && (a.body["access_token"] == nil || a.body["token_type"] != "Bearer") {
				t.Errorf("token response %v", a.body)
			}
		})
	}
}

// TestCodeReuse refuses the second exchange and ends the session the
// code opened, so what the first exchange issued stops working.
func TestCodeReuse(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {f.code(verifier, nil)},
		"redirect_uri": {f.callback}, "code_verifier": {verifier}}
	first := f.exchange(v, "spa", "")
	if first.status != 200 {
		t.Fatalf("first exchange: %d %v", first.status, first.body)
	}
	claims, err := f.provider.VerifyAccess(context.Background(), first.body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	second := f.exchange(v, "spa", "")
	if second.status != 400 || second.body["error"] != "invalid_grant" {
		t.Fatalf("second exchange: %d %v", second.status, second.body)
	}
	s, err := f.db.GetSession(context.Background(), claims.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if s.RevokedAt == nil {
		t.Error("the session of a reused code was not ended")
	}
}

// TestCodeExpires refuses a code exchanged after CodeLifetime (60s).
func TestCodeExpires(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	code := f.code(verifier, nil)
	f.clock.Add(61 * time.Second)
	a := f.exchange(url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {f.callback}, "code_verifier": {verifier}}, "spa", "")
	if a.status != 400 || a.body["error"] != "invalid_grant" {
		t.Fatalf("expired code: %d %v", a.status, a.body)
	}
}

// TestConfidentialClientFlow covers a confidential client: PKCE optional,
// the secret required, and a verifier refused for a code issued without a
// challenge (a downgrade).
func TestConfidentialClientFlow(t *testing.T) {
	f := newFixture(t)
	codeFor := func() string {
		v := url.Values{"client_id": {"webapp"}, "response_type": {"code"}, "redirect_uri": {"https://app.example/cb"}}
		return location(t, f.signIn(f.browser(), f.authURL(v), "alice", password)).Query().Get("code")
	}
	base := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}}
	}
	if a := f.exchange(base(codeFor()), "webapp", ""); a.status != 401 || a.body["error"] != "invalid_client" {
		t.Errorf("without the secret: %d %v", a.status, a.body)
	}
	v := base(codeFor())
	v.Set("code_verifier", oauth2.GenerateVerifier())
	if a := f.exchange(v, "webapp", f.confSec); a.status != 400 || a.body["error"] != "invalid_grant" {
		t.Errorf("verifier without challenge: %d %v", a.status, a.body)
	}
	if a := f.exchange(base(codeFor()), "webapp", f.confSec); a.status != 200 {
		t.Errorf("with the secret: %d %v", a.status, a.body)
	}
}

// TestMetadataAdvertisesAuthorization checks RFC 8414 metadata once the
// endpoint is mounted.
func TestMetadataAdvertisesAuthorization(t *testing.T) {
	f := newFixture(t)
	res, err := http.Get(f.srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	if m["authorization_endpoint"] != f.srv.URL+"/oauth2/authorize" || m["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("metadata %v", m)
	}
	if ms, _ := m["code_challenge_methods_supported"].([]any); len(ms) != 1 || ms[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v", m["code_challenge_methods_supported"])
	}
	found := false
	for _, g := range m["grant_types_supported"].([]any) {
		found = found || g == "authorization_code"
	}
	if !found {
		t.Error("authorization_code is not in grant_types_supported")
	}
}
