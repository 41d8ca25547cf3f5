package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

func TestTokenInspectAndRevoke(t *testing.T) {
	s := newCLIServer(t)
	token := func(t *testing.T, args ...string) string {
		t.Helper()
		return strings.TrimSpace(runCLI(t, runToken(nil), args...).ok(t).Stdout)
	}
	inspect := func(stdin string, args ...string) cliResult {
		return runCLI(t, runToken(strings.NewReader(stdin)), append([]string{"inspect"}, args...)...)
	}
	tok := token(t, "--scope", "admin:users admin:roles")

	t.Run("from an argument", func(t *testing.T) {
		inspect("", tok).ok(t, "signature:  valid (ES256 key ", s.URL+"/.well-known/jwks.json",
			"expiry:     in 59m", "active:     yes (asked client "+s.AdminID, "scope        admin:users admin:roles",
			"typ          at+jwt", "iss          "+s.URL)
	})
	t.Run("from standard input", func(t *testing.T) {
		inspect(tok+"\n").ok(t, "signature:  valid")
		inspect(tok, "-").ok(t, "active:     yes")
	})
	t.Run("as JSON", func(t *testing.T) {
		r := inspect("", tok, "--json").ok(t)
		var in struct {
			Header    map[string]any `json:"header"`
			Claims    map[string]any `json:"claims"`
			Signature struct {
				Valid bool   `json:"valid"`
				KID   string `json:"kid"`
			} `json:"signature"`
			Expiry struct {
				ExpiresIn int64 `json:"expires_in_seconds"`
			} `json:"expiry"`
			Introspection map[string]any `json:"introspection"`
			Problems      []string       `json:"problems"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &in); err != nil {
			t.Fatalf("%v\n%s", err, r.Stdout)
		}
		if !in.Signature.Valid || in.Signature.KID != in.Header["kid"] || in.Expiry.ExpiresIn < 3500 || in.Expiry.ExpiresIn > 3600 ||
			in.Introspection["active"] != true || in.Claims["client_id"] != s.AdminID || len(in.Problems) != 0 {
			t.Errorf("inspection %+v", in)
		}
	})
	t.Run("a forged signature", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		sig := []byte(parts[2])
		if sig[5] == 'A' { // another valid base64url character, so the signature decodes but is wrong
			sig[5] = 'B'
		} else {
			sig[5] = 'A'
		}
		forged := parts[0] + "." + parts[1] + "." + string(sig)
		r := inspect("", forged)
		r.fails(t, "the token is not valid now")
		if !strings.Contains(r.Stdout, "signature:  NOT VALID: bad signature") || !strings.Contains(r.Stdout, "active:     NO") {
			t.Errorf("forged token shown as\n%s", r.Stdout)
		}
	})
	t.Run("not a token", func(t *testing.T) {
		inspect("", "a.b.c").fails(t, "not a JWT")
		inspect("").fails(t, "no token")
		inspect("one two").fails(t, "more than one token")
	})
	t.Run("revoke", func(t *testing.T) {
		victim := token(t, "--scope", "admin:roles")
		runCLI(t, runToken(nil), "revoke", victim).ok(t, "revoked")
		r := inspect("", victim)
		r.fails(t, "not valid")
		if !strings.Contains(r.Stdout, "signature:  valid") || !strings.Contains(r.Stdout, "active:     NO") {
			t.Errorf("revoked token shown as\n%s", r.Stdout)
		}
		// The API refuses it too.
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/roles", nil)
		req.Header.Set("Authorization", "Bearer "+victim)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("revoked token on the API: %d", res.StatusCode)
		}
		runCLI(t, runToken(strings.NewReader(victim)), "revoke").ok(t, "revoked") // from stdin; RFC 7009: again is fine
		runCLI(t, runToken(nil), "revoke", victim, "--client-id", "nobody", "--client-secret", "pms_x").fails(t, "invalid_client")
	})
	t.Run("without credentials the token asks about itself", func(t *testing.T) {
		own := token(t, "--scope", "admin:roles")
		t.Setenv("PERMISO_CREDENTIALS_FILE", "/nonexistent")
		t.Chdir(t.TempDir()) // no ./permiso-data here either
		inspect("", own).ok(t, "signature:  valid", "active:     yes (asked the token itself at /api/v1/auth/introspect)")
		runCLI(t, runToken(nil), "revoke", own, "--credentials-file", s.CredsFile).ok(t, "revoked")
		r := inspect("", own)
		r.fails(t, "not valid")
		if !strings.Contains(r.Stdout, "active:     NO (asked the token itself") {
			t.Errorf("revoked token asking about itself:\n%s", r.Stdout)
		}
	})
	t.Run("a token of another issuer", func(t *testing.T) {
		other := otherIssuerToken(t)
		r := inspect("", other)
		r.fails(t, "not valid")
		if !strings.Contains(r.Stdout, "not by this server") {
			t.Errorf("foreign token shown as\n%s", r.Stdout)
		}
	})
}

// otherIssuerToken gets a token from a second, independent Permiso.
func otherIssuerToken(t *testing.T) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	url := "http://" + ts.Listener.Addr().String()
	dir := filepath.Join(t.TempDir(), "other")
	srv, err := server.New(context.Background(), server.Config{DataDir: dir, Issuer: url, Environment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(func() { ts.Close(); srv.Close() })
	r := runCLI(t, runToken(nil), "--server", url, "--credentials-file", filepath.Join(dir, server.BootstrapFile)).ok(t)
	return strings.TrimSpace(r.Stdout)
}

func TestHumanDuration(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		at   time.Time
		want string
	}{
		{now, "now"},
		{now.Add(45 * time.Second), "in 45s"},
		{now.Add(59*time.Minute + 58*time.Second + 300*time.Millisecond), "in 59m 58s"},
		{now.Add(2*time.Hour + 5*time.Minute), "in 2h 5m"},
		{now.Add(-3 * time.Minute), "3m 0s ago"},
		{now.Add(-(3*24*time.Hour + 4*time.Hour)), "3d 4h ago"},
	}
	for _, tt := range tests {
		if got := untilHuman(tt.at, now); got != tt.want {
			t.Errorf("untilHuman(%v) = %q, want %q", tt.at.Sub(now), got, tt.want)
		}
	}
}
