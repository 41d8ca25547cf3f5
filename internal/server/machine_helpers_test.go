package server_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// allowLoopback lets the server fetch keys from test servers on loopback.
func allowLoopback(c *server.Config) { c.OutboundAllow = outbound.Loopback }

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// assertion signs a private_key_jwt client assertion for clientID; mutate
// changes claims (a nil value deletes one) and header fields.
func assertion(t *testing.T, k *jwttest.Key, clientID, aud string, mutate func(claims, header map[string]any)) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
	header := map[string]any{}
	if mutate != nil {
		mutate(claims, header)
	}
	for n, v := range claims {
		if v == nil {
			delete(claims, n)
		}
	}
	return k.Sign(t, claims, header)
}

// withAssertion posts form values with a client assertion of type typ.
func (ts *testServer) withAssertion(path, typ, a string, v url.Values) *response {
	if v == nil {
		v = url.Values{}
	}
	v.Set("client_assertion_type", typ)
	v.Set("client_assertion", a)
	return ts.form(path, v, "", "")
}

// assertionToken asks for a client_credentials token with an assertion.
func (ts *testServer) assertionToken(typ, a string) *response {
	return ts.withAssertion("/oauth2/token", typ, a, url.Values{"grant_type": {"client_credentials"}})
}

// wantInvalidClient checks a refusal: 401 invalid_client, and a
// description that contains want (or is the generic one when want is "").
func wantInvalidClient(t *testing.T, what string, r *response, want string) {
	t.Helper()
	if r.Status != 401 || r.str("error") != wire.ErrInvalidClient {
		t.Fatalf("%s: %d %s, want 401 invalid_client", what, r.Status, r.Body)
	}
	desc := r.str("error_description")
	if want == "" && desc != "Client authentication failed" {
		t.Fatalf("%s: description %q tells more than that authentication failed", what, desc)
	}
	if want != "" && !strings.Contains(desc, want) {
		t.Fatalf("%s: description %q does not say %q", what, desc, want)
	}
}

// wantAuditReason polls the audit log for a client.auth_failure with reason.
func (ts *testServer) wantAuditReason(t *testing.T, reason string) map[string]any {
	t.Helper()
	var found map[string]any
	admin := ts.adminToken()
	waitUntil(t, 15*time.Second, "audit event "+reason, func() bool {
		r := ts.jsonReq("GET", "/api/v1/admin/audit/events?type=client.auth_failure&per_page=100", admin, nil)
		events, _ := r.JSON["events"].([]any)
		for _, e := range events {
			m, _ := e.(map[string]any)
			d, _ := m["details"].(map[string]any)
			if d["reason"] == reason {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func jwksOf(keys ...*jwttest.Key) map[string]any {
	var m map[string]any
	json.Unmarshal(jwttest.JWKS(keys...), &m)
	return m
}
