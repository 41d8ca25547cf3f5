package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// TestTransactionTokens requests transaction tokens
// (draft-ietf-oauth-transaction-tokens-11) at the token endpoint and
// verifies them as a workload does.
func TestTransactionTokens(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.ts.createUser("alice", "trader")
	subject := w.userToken("dashboard", "alice")["access_token"].(string)
	sc := tokenClaims(t, subject)
	txnForm := func(extra url.Values) url.Values {
		v := url.Values{"subject_token": {subject}, "requested_token_type": {wire.TokenTypeTxnToken}, "scope": {"trade:open"}}
		for k, vv := range extra {
			v[k] = vv
		}
		return v
	}

	r := w.exchange("mt5-api", txnForm(url.Values{"audience": {trustDomain},
		"request_context": {`{"req_ip": "203.0.113.9", "authn": "pwd"}`},
		"request_details": {`{"action": "BUY", "symbol": "EURUSD", "volume": 0.1}`}}))
	status(t, r, http.StatusOK)
	if r.str("token_type") != wire.TokenTypeNA || r.str("issued_token_type") != wire.TokenTypeTxnToken ||
		r.JSON["refresh_token"] != nil || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("response %s", r.Body)
	}
	if n, _ := r.JSON["expires_in"].(float64); n <= 0 || n > 60 {
		t.Fatalf("expires_in %v, want at most the 60 s default", r.JSON["expires_in"])
	}
	raw := r.str("access_token")
	tok, err := jwt.ParseUnverified(raw)
	if err != nil || tok.Header.Type != wire.TxnTokenJWTType {
		t.Fatalf("header %+v, %v", tok, err)
	}

	g, err := guard.New(context.Background(), guard.Config{Issuer: w.ts.URL, Audience: riskAud, TrustDomain: trustDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	c, err := g.VerifyTxnToken(context.Background(), raw)
	if err != nil {
		t.Fatalf("a workload of the trust domain refuses the token: %v", err)
	}
	if c.Subject != alice || !c.Audience.Contains(trustDomain) || len(c.Audience) != 1 || c.Scope != "trade:open" ||
		c.RequestingWorkload != "mt5-api" || !uuidPattern.MatchString(c.Txn) || c.Issuer != w.ts.URL ||
		c.SessionID != sc.SessionID || c.RootID != sc.ID || c.Expiry-c.IssuedAt > 60 {
		t.Fatalf("claims %+v", c)
	}
	if string(c.RequestContext) != `{"req_ip":"203.0.113.9","authn":"pwd"}` ||
		string(c.TransactionContext) != `{"action":"BUY","symbol":"EURUSD","volume":0.1}` {
		t.Fatalf("rctx %s tctx %s", c.RequestContext, c.TransactionContext)
	}
	var payload map[string]any
	json.Unmarshal(tok.Payload, &payload)
	for _, claim := range []string{"iat", "aud", "exp", "txn", "sub", "scope", "req_wl"} {
		if payload[claim] == nil {
			t.Errorf("required claim %s missing", claim)
		}
	}
	if _, err := g.Verify(context.Background(), raw); err == nil {
		t.Fatal("a transaction token passed as an access token")
	}
	other, err := guard.New(context.Background(), guard.Config{Issuer: w.ts.URL, Audience: riskAud, TrustDomain: "other.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.VerifyTxnToken(context.Background(), raw); err == nil {
		t.Fatal("a workload of another trust domain accepted the token")
	}

	t.Run("two requests are two transactions", func(t *testing.T) {
		r2 := w.exchange("mt5-api", txnForm(nil))
		status(t, r2, http.StatusOK)
		c2, err := g.VerifyTxnToken(context.Background(), r2.str("access_token"))
		if err != nil || c2.Txn == c.Txn {
			t.Fatalf("second transaction: %+v, %v", c2, err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		cases := []struct {
			name, client, code string
			form               url.Values
		}{
			{"no scope", "mt5-api", wire.ErrInvalidRequest, txnForm(url.Values{"scope": {""}})},
			{"scope beyond the policy", "mt5-api", wire.ErrInvalidScope, txnForm(url.Values{"scope": {"trade:close"}})},
			{"another audience", "mt5-api", wire.ErrInvalidTarget, txnForm(url.Values{"audience": {riskAud}})},
			{"two audiences", "mt5-api", wire.ErrInvalidTarget, txnForm(url.Values{"audience": {trustDomain, riskAud}})},
			{"client without the trust domain", "helper", wire.ErrInvalidTarget, txnForm(url.Values{"subject_token": {w.userToken("portal", "alice")["access_token"].(string)}})},
			{"request_details not an object", "mt5-api", wire.ErrInvalidRequest, txnForm(url.Values{"request_details": {`["BUY"]`}})},
			{"request_context not JSON", "mt5-api", wire.ErrInvalidRequest, txnForm(url.Values{"request_context": {`{"req_ip":`}})},
			{"an actor token", "mt5-api", wire.ErrInvalidRequest, txnForm(url.Values{"actor_token": {subject}, "actor_token_type": {wire.TokenTypeAccessToken}})},
			{"a transaction token as subject", "mt5-api", wire.ErrInvalidRequest, txnForm(url.Values{"subject_token": {raw}, "subject_token_type": {wire.TokenTypeTxnToken}})},
			{"a captured token", "eve", wire.ErrInvalidRequest, txnForm(nil)},
		}
		for _, tt := range cases {
			t.Run(tt.name, func(t *testing.T) { oauthError(t, w.exchange(tt.client, tt.form), tt.code) })
		}
	})

	t.Run("off unless a trust domain is configured", func(t *testing.T) {
		plain := newTestServer(t, nil)
		id, secret := plain.createClient(map[string]any{"name": "Exchanger", "grant_types": []string{wire.GrantTokenExchange}})
		r := plain.form("/oauth2/token", url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token": {subject},
			"subject_token_type": {wire.TokenTypeAccessToken}, "requested_token_type": {wire.TokenTypeTxnToken}, "scope": {"a"}}, id, secret)
		oauthError(t, r, wire.ErrInvalidRequest)
	})
}
