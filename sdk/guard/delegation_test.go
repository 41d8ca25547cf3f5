package guard

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

const testTrustDomain = "trading.example"

// delegated returns claims of a user token that mt5-api obtained by token
// exchange for user-1, with the given prior actors nested under it.
func delegated(c wire.Claims, prior *wire.Actor) wire.Claims {
	c.Subject, c.Type, c.ClientID, c.RootID = "user-1", wire.ClaimTypeAccess, "mt5-api", "root-1"
	c.Act = &wire.Actor{Subject: "mt5-api", ClientID: "mt5-api", Act: prior}
	return c
}

func TestDelegationRequirementsAndContext(t *testing.T) {
	iss, g := newTestGuard(t, nil)
	base := func() wire.Claims { return iss.Claims("svc", testAudience, "trade:read") }
	user := base()
	user.Subject, user.Type = "user-1", wire.ClaimTypeAccess
	impersonated := base()
	impersonated.Subject, impersonated.Type, impersonated.ClientID, impersonated.RootID = "user-1", wire.ClaimTypeAccess, "mt5-api", "root-1"
	chain := delegated(base(), &wire.Actor{Subject: "gateway", ClientID: "gateway"})

	tests := []struct {
		name   string
		claims wire.Claims
		reqs   []Requirement
		want   int
	}{
		{"service token acting for itself", base(), []Requirement{ActingForUser()}, 403},
		{"user's own token", user, []Requirement{ActingForUser()}, 403},
		{"delegated user token", delegated(base(), nil), []Requirement{ActingForUser(), NoImpersonation()}, 200},
		{"own token is no impersonation", user, []Requirement{NoImpersonation()}, 200},
		{"impersonation refused", impersonated, []Requirement{NoImpersonation()}, 403},
		{"impersonation keeping an earlier actor refused", func() wire.Claims {
			c := impersonated
			c.Act = &wire.Actor{Subject: "gateway", ClientID: "gateway"}
			return c
		}(), []Requirement{NoImpersonation()}, 403},
		{"acted by the allowed service", chain, []Requirement{ActedBy("risk", "mt5-api")}, 200},
		{"acted by another service", chain, []Requirement{ActedBy("risk")}, 403},
		{"earlier actor does not count", chain, []Requirement{ActedBy("gateway")}, 403},
		{"no actor", user, []Requirement{ActedBy("mt5-api")}, 403},
		{"transaction token required but guard reads none", delegated(base(), nil), []Requirement{WithTxnToken()}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := iss.Mint(tt.claims)
			var seen *auth
			h := g.Require(tt.reqs...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = authFrom(r.Context())
				if AccessToken(r.Context()) != tok {
					t.Error("AccessToken is not the bearer token")
				}
				want := tt.claims.Act.Chain()
				if got := Actors(r.Context()); !slices.Equal(got, want) {
					t.Errorf("Actors = %+v, want %+v", got, want)
				}
				if a, ok := Actor(r.Context()); ok != (tt.claims.Act != nil) || (ok && a.ClientID != tt.claims.Act.ClientID) {
					t.Errorf("Actor = %+v, %v", a, ok)
				}
				if IsActingForUser(r.Context()) != (tt.claims.Type == wire.ClaimTypeAccess && tt.claims.Act != nil) {
					t.Error("IsActingForUser wrong")
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 403 {
				var body map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != wire.ErrForbidden || body["error_description"] == "" {
					t.Fatalf("403 body = %s", rec.Body)
				}
			}
			if (seen != nil) != (tt.want == 200) {
				t.Fatalf("handler reached = %v", seen != nil)
			}
		})
	}
}

func txnClaims(iss string, now time.Time) wire.TxnClaims {
	return wire.TxnClaims{Issuer: iss, IssuedAt: now.Unix(), Audience: wire.Audience{testTrustDomain},
		Expiry: now.Add(time.Minute).Unix(), Txn: "txn-1", Subject: "user-1", Scope: "trade:open",
		RequestingWorkload: "mt5-api", TransactionContext: json.RawMessage(`{"symbol":"EURUSD"}`), ID: "tj-1"}
}

func TestTransactionTokenHeader(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.TrustDomain = testTrustDomain })
	now := time.Now()
	access := iss.Mint(delegated(iss.Claims("svc", testAudience, "trade:open"), nil))
	good := iss.MintWith(iss.SigningKey(), wire.TxnTokenJWTType, txnClaims(iss.URL, now))
	with := func(f func(*wire.TxnClaims)) wire.TxnClaims { c := txnClaims(iss.URL, now); f(&c); return c }
	sign := func(c wire.TxnClaims) string { return iss.MintWith(iss.SigningKey(), wire.TxnTokenJWTType, c) }

	tests := []struct {
		name    string
		headers []string
		reqs    []Requirement
		want    int
	}{
		{"none, not required", nil, nil, 200},
		{"none, required", nil, []Requirement{WithTxnToken()}, 403},
		{"valid, required", []string{good}, []Requirement{WithTxnToken()}, 200},
		{"two headers", []string{good, good}, nil, 401},
		{"access token as txn token", []string{access}, nil, 401},
		{"txn token typ missing", []string{iss.MintWith(iss.SigningKey(), "JWT", txnClaims(iss.URL, now))}, nil, 401},
		{"other trust domain", []string{sign(with(func(c *wire.TxnClaims) { c.Audience = wire.Audience{"other.example"} }))}, nil, 401},
		{"expired", []string{sign(with(func(c *wire.TxnClaims) {
			c.IssuedAt, c.Expiry = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))}, nil, 401},
		{"no txn", []string{sign(with(func(c *wire.TxnClaims) { c.Txn = "" }))}, nil, 401},
		{"no req_wl", []string{sign(with(func(c *wire.TxnClaims) { c.RequestingWorkload = "" }))}, nil, 401},
		{"another issuer", []string{sign(with(func(c *wire.TxnClaims) { c.Issuer = "https://evil.example" }))}, nil, 401},
		{"garbage", []string{"x.y.z"}, nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := g.Require(tt.reqs...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				txn, ok := TxnToken(r.Context())
				if ok != (len(tt.headers) == 1) {
					t.Errorf("TxnToken present = %v", ok)
				}
				if ok && (txn.Txn != "txn-1" || RawTxnToken(r.Context()) != tt.headers[0] || string(txn.TransactionContext) != `{"symbol":"EURUSD"}`) {
					t.Errorf("TxnToken = %+v", txn)
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			for _, v := range tt.headers {
				req.Header.Add(wire.HeaderTxnToken, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without a challenge")
			}
		})
	}

	t.Run("revoked", func(t *testing.T) {
		c := txnClaims(iss.URL, now)
		c.ID = "tj-revoked"
		iss.Revoke(c.ID, c.Expiry)
		g, err := New(t.Context(), Config{Issuer: iss.URL, Audience: testAudience, TrustDomain: testTrustDomain, RevocationPoll: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		waitReady(t, g)
		if _, err := g.VerifyTxnToken(t.Context(), sign(c)); err == nil {
			t.Fatal("revoked transaction token accepted")
		}
		if _, err := g.VerifyTxnToken(t.Context(), good); err != nil {
			t.Fatalf("valid transaction token: %v", err)
		}
	})
}

func TestTxnTokenNeedsTrustDomain(t *testing.T) {
	iss, g := newTestGuard(t, nil)
	tok := iss.MintWith(iss.SigningKey(), wire.TxnTokenJWTType, txnClaims(iss.URL, time.Now()))
	if _, err := g.VerifyTxnToken(t.Context(), tok); err == nil {
		t.Fatal("a guard without TrustDomain accepted a transaction token")
	}
	// Without a TrustDomain the header is not read at all.
	h := g.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := TxnToken(r.Context()); ok {
			t.Error("transaction token in context")
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Mint(iss.Claims("svc", testAudience)))
	req.Header.Set(wire.HeaderTxnToken, "garbage")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status = %d", rec.Code)
	}
}
