package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestTokenExchange runs RFC 8693 token exchange end to end through the
// token endpoint: narrowing, every policy refusal, the confused deputy,
// may_act, chains and their depth, and lifetime capping.
func TestTokenExchange(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ts := w.ts
	alice := ts.createUser("alice", "trader")
	ts.createUser("bob", "user")
	sub := w.userToken("dashboard", "alice")
	subject := sub["access_token"].(string)
	subClaims := tokenClaims(t, subject)

	t.Run("delegation narrows to the subject's scopes and the policy", func(t *testing.T) {
		r := w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {riskAud}})
		status(t, r, http.StatusOK)
		if r.str("issued_token_type") != wire.TokenTypeAccessToken || r.str("token_type") != "Bearer" ||
			r.JSON["refresh_token"] != nil || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("response %s, Cache-Control %q", r.Body, r.Header.Get("Cache-Control"))
		}
		c := tokenClaims(t, r.str("access_token"))
		if c.Subject != alice || c.ClientID != "mt5-api" || !slices.Equal([]string(c.Audience), []string{riskAud}) ||
			c.Type != wire.ClaimTypeAccess || c.Username != "alice" {
			t.Fatalf("claims %+v", c)
		}
		if !sameSet(c.Scopes, []string{"trade:read", "trade:open"}) || !sameSet(strings.Fields(r.str("scope")), c.Scopes) {
			t.Fatalf("scopes %v (response %q), want the trader's ∩ the policy's", c.Scopes, r.str("scope"))
		}
		if c.Act == nil || c.Act.Subject != "mt5-api" || c.Act.ClientID != "mt5-api" || c.Act.Act != nil {
			t.Fatalf("act %+v", c.Act)
		}
		if c.RootID != subClaims.ID || c.SessionID != subClaims.SessionID || c.SessionID == "" {
			t.Fatalf("root_jti %q sid %q, want the subject's jti %q and sid %q", c.RootID, c.SessionID, subClaims.ID, subClaims.SessionID)
		}
		if !w.active(r.str("access_token")) {
			t.Fatal("exchanged token inactive at introspection")
		}
		intro := ts.form("/oauth2/introspect", url.Values{"token": {r.str("access_token")}}, ts.AdminID, ts.Secret)
		if act, _ := intro.JSON["act"].(map[string]any); act["sub"] != "mt5-api" {
			t.Fatalf("introspection act = %v", intro.JSON["act"])
		}
	})

	t.Run("requested scopes narrow further; resource works as audience; jwt type", func(t *testing.T) {
		r := w.exchange("mt5-api", url.Values{"subject_token": {subject}, "resource": {riskAud},
			"scope": {"trade:read"}, "requested_token_type": {wire.TokenTypeJWT}})
		status(t, r, http.StatusOK)
		if c := tokenClaims(t, r.str("access_token")); !slices.Equal(c.Scopes, []string{"trade:read"}) {
			t.Fatalf("scopes %v", c.Scopes)
		}
		if r.str("issued_token_type") != wire.TokenTypeJWT {
			t.Fatalf("issued_token_type %q", r.str("issued_token_type"))
		}
	})

	t.Run("several audiences take the scopes allowed at all of them", func(t *testing.T) {
		r := w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {riskAud, ledgerAud}})
		status(t, r, http.StatusOK)
		c := tokenClaims(t, r.str("access_token"))
		if !slices.Equal([]string(c.Audience), []string{riskAud, ledgerAud}) || !slices.Equal(c.Scopes, []string{"trade:read"}) {
			t.Fatalf("aud %v scopes %v", c.Audience, c.Scopes)
		}
	})

	t.Run("invalid_scope", func(t *testing.T) {
		// account:read: the trader holds it, the policy does not carry it.
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {riskAud},
			"scope": {"trade:read account:read"}}), wire.ErrInvalidScope)
		// bob is no trader: his token never had trade:open.
		bobTok := w.userToken("dashboard", "bob")["access_token"].(string)
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {bobTok}, "audience": {riskAud},
			"scope": {"trade:open"}}), wire.ErrInvalidScope)
		r := w.exchange("mt5-api", url.Values{"subject_token": {bobTok}, "audience": {riskAud}})
		status(t, r, http.StatusOK)
		if c := tokenClaims(t, r.str("access_token")); len(c.Scopes) != 0 {
			t.Fatalf("bob's exchanged token holds %v", c.Scopes)
		}
	})

	t.Run("a user's scopes are re-resolved from their roles now", func(t *testing.T) {
		carol := ts.createUser("carol", "trader")
		carolTok := w.userToken("dashboard", "carol")["access_token"].(string)
		r := ts.jsonReq("PUT", "/api/v1/users/"+carol+"/roles", ts.adminToken(), map[string]any{"role_ids": []string{"user"}})
		status(t, r, http.StatusOK)
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {carolTok}, "audience": {riskAud},
			"scope": {"trade:open"}}), wire.ErrInvalidScope)
		_, c := w.exchangeOK("mt5-api", carolTok, url.Values{"audience": {riskAud}})
		if len(c.Scopes) != 0 {
			t.Fatalf("carol lost the trader role, but the exchanged token holds %v", c.Scopes)
		}
	})

	t.Run("invalid_target", func(t *testing.T) {
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {"https://elsewhere.test"}}), wire.ErrInvalidTarget)
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {riskAud, "https://elsewhere.test"}}), wire.ErrInvalidTarget)
		// The trust domain is for transaction tokens only.
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {trustDomain}}), wire.ErrInvalidTarget)
	})

	t.Run("invalid_request", func(t *testing.T) {
		refresh := sub["refresh_token"].(string)
		cases := map[string]url.Values{
			"no subject_token":                          {},
			"no subject_token_type":                     {"subject_token": {subject}, "subject_token_type": {""}},
			"actor_token without its type":              {"subject_token": {subject}, "actor_token": {subject}},
			"actor_token_type alone":                    {"subject_token": {subject}, "actor_token_type": {wire.TokenTypeAccessToken}},
			"unknown requested type":                    {"subject_token": {subject}, "requested_token_type": {"urn:example:saml"}},
			"unknown subject type":                      {"subject_token": {subject}, "subject_token_type": {"urn:example:saml"}},
			"refresh token as subject":                  {"subject_token": {refresh}, "subject_token_type": {wire.TokenTypeRefreshToken}},
			"refresh token typed access":                {"subject_token": {refresh}},
			"garbage subject":                           {"subject_token": {"not.a.token"}},
			"tampered subject":                          {"subject_token": {subject[:len(subject)-4] + "AAAA"}},
			"txn parameters on an access token request": {"subject_token": {subject}, "request_details": {`{"a":1}`}},
		}
		for name, form := range cases {
			t.Run(name, func(t *testing.T) { oauthError(t, w.exchange("mt5-api", form), wire.ErrInvalidRequest) })
		}
	})

	t.Run("unauthorized_client", func(t *testing.T) {
		for _, client := range []string{"nogrant", "nopolicy", "passive"} {
			oauthError(t, w.exchange(client, url.Values{"subject_token": {subject}, "audience": {riskAud}}), wire.ErrUnauthorizedClient)
		}
		// Impersonation is the policy of imp; delegating for an actor is not.
		actor := ts.token(w.ts.AdminID, w.ts.Secret, nil)
		oauthError(t, w.exchange("imp", url.Values{"subject_token": {subject}, "audience": {riskAud},
			"actor_token": {actor}, "actor_token_type": {wire.TokenTypeAccessToken}}), wire.ErrUnauthorizedClient)
	})

	t.Run("a captured token is refused to a client it was not meant for", func(t *testing.T) {
		// eve holds the trader's token (aud mt5-api) and a policy of her own.
		r := w.exchange("eve", url.Values{"subject_token": {subject}, "audience": {riskAud}})
		oauthError(t, r, wire.ErrInvalidRequest)
		if !strings.Contains(r.str("error_description"), "not issued for this client") {
			t.Fatalf("description %q", r.str("error_description"))
		}
		// risk is a legitimate service, but the trader's token was for mt5-api.
		oauthError(t, w.exchange("risk", url.Values{"subject_token": {subject}, "audience": {ledgerAud}}), wire.ErrInvalidRequest)
	})

	t.Run("may_act names who may act for a token meant elsewhere", func(t *testing.T) {
		ptok := w.userToken("portal", "alice")["access_token"].(string)
		pc := tokenClaims(t, ptok)
		if len(pc.MayAct) != 1 || pc.MayAct[0].ClientID != "helper" {
			t.Fatalf("portal token may_act = %+v", pc.MayAct)
		}
		_, c := w.exchangeOK("helper", ptok, url.Values{"audience": {riskAud}})
		if c.Act == nil || c.Act.ClientID != "helper" || c.Subject != alice {
			t.Fatalf("claims %+v", c)
		}
		oauthError(t, w.exchange("eve", url.Values{"subject_token": {ptok}, "audience": {riskAud}}), wire.ErrInvalidRequest)
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {ptok}, "audience": {riskAud}}), wire.ErrInvalidRequest)
	})

	t.Run("an actor token names the acting party, which must be the client", func(t *testing.T) {
		mt5Self := ts.token("mt5-api", w.secrets["mt5-api"], url.Values{"resource": {riskAud}})
		_, c := w.exchangeOK("mt5-api", subject, url.Values{"audience": {riskAud},
			"actor_token": {mt5Self}, "actor_token_type": {wire.TokenTypeAccessToken}})
		if c.Act == nil || c.Act.Subject != "mt5-api" {
			t.Fatalf("act %+v", c.Act)
		}
		// Another client's token as actor: mt5-api cannot claim to be the admin.
		oauthError(t, w.exchange("mt5-api", url.Values{"subject_token": {subject}, "audience": {riskAud},
			"actor_token": {ts.adminToken()}, "actor_token_type": {wire.TokenTypeAccessToken}}), wire.ErrInvalidRequest)
	})

	t.Run("chains nest act and stop at the policy's depth", func(t *testing.T) {
		hop1, c1 := w.exchangeOK("mt5-api", subject, url.Values{"audience": {riskAud}})
		hop2, c2 := w.exchangeOK("risk", hop1, url.Values{"audience": {ledgerAud}})
		if c2.Subject != alice || c2.Act == nil || c2.Act.ClientID != "risk" || c2.Act.Act == nil ||
			c2.Act.Act.ClientID != "mt5-api" || c2.Act.Act.Act != nil {
			t.Fatalf("hop 2 act %+v (RFC 8693 §4.1: the current actor outermost)", c2.Act)
		}
		if c2.RootID != subClaims.ID || c1.RootID != subClaims.ID {
			t.Fatalf("root_jti %q %q, want the original %q", c1.RootID, c2.RootID, subClaims.ID)
		}
		if !sameSet(c2.Scopes, []string{"trade:read", "trade:open"}) {
			t.Fatalf("hop 2 scopes %v", c2.Scopes)
		}
		// ledger allows chains of 2: a third actor is one too many.
		r := w.exchange("ledger", url.Values{"subject_token": {hop2}, "audience": {riskAud}})
		oauthError(t, r, wire.ErrInvalidRequest)
		if !strings.Contains(r.str("error_description"), "chain") {
			t.Fatalf("description %q", r.str("error_description"))
		}
	})

	t.Run("impersonation carries no act but remembers its root", func(t *testing.T) {
		_, c := w.exchangeOK("imp", subject, url.Values{"audience": {riskAud}})
		if c.Act != nil || c.Subject != alice || c.ClientID != "imp" || c.RootID != subClaims.ID {
			t.Fatalf("impersonation claims %+v", c)
		}
	})

	t.Run("the result never outlives the subject token", func(t *testing.T) {
		// batch's token lives five minutes; mt5-api's own tokens an hour.
		short := ts.token("batch", w.secrets["batch"], url.Values{"resource": {mt5Aud}})
		sc := tokenClaims(t, short)
		r := w.exchange("mt5-api", url.Values{"subject_token": {short}, "audience": {riskAud}})
		status(t, r, http.StatusOK)
		c := tokenClaims(t, r.str("access_token"))
		if c.Expiry != sc.Expiry || c.Subject != "batch" || c.Type != wire.ClaimTypeService {
			t.Fatalf("exp %d sub %q, want the subject's exp %d", c.Expiry, c.Subject, sc.Expiry)
		}
		if n, _ := r.JSON["expires_in"].(float64); int64(n) != c.Expiry-c.IssuedAt || n > 300 {
			t.Fatalf("expires_in %v, exp-iat %d", r.JSON["expires_in"], c.Expiry-c.IssuedAt)
		}
		if c.IsTrusted == nil || *c.IsTrusted {
			t.Fatal("a derived service token is trusted only when subject and actor both are")
		}
		hop2, _ := w.exchangeOK("risk", r.str("access_token"), url.Values{"audience": {ledgerAud}})
		if tokenClaims(t, hop2).Expiry > sc.Expiry {
			t.Fatal("a second hop outlives the root")
		}
	})

	t.Run("a bound subject token needs proof of its key, and what derives from it stays bound", func(t *testing.T) {
		key, other := newDPoPKey(t), newDPoPKey(t)
		tokenURL := ts.URL + "/oauth2/token"
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"DPoP": {key.proof(t, "POST", tokenURL, dpop.ProofOptions{})}}
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth("batch", w.secrets["batch"])
		h.Set("Authorization", req.Header.Get("Authorization"))
		r := ts.do("POST", "/oauth2/token", h, strings.NewReader(url.Values{"grant_type": {"client_credentials"},
			"resource": {mt5Aud}}.Encode()))
		status(t, r, http.StatusOK)
		bound := r.str("access_token")
		if c := tokenClaims(t, bound); c.Cnf == nil || c.Cnf.JKT != key.Thumbprint() {
			t.Fatalf("subject cnf %+v", c.Cnf)
		}
		form := url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token": {bound},
			"subject_token_type": {wire.TokenTypeAccessToken}, "audience": {riskAud}}
		exchangeWith := func(proof string) *response {
			h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
			if proof != "" {
				h.Set("DPoP", proof)
			}
			req, _ := http.NewRequest("POST", "/", nil)
			req.SetBasicAuth("mt5-api", w.secrets["mt5-api"])
			h.Set("Authorization", req.Header.Get("Authorization"))
			return ts.do("POST", "/oauth2/token", h, strings.NewReader(form.Encode()))
		}
		for name, proof := range map[string]string{"no proof": "", "another key's proof": other.proof(t, "POST", tokenURL, dpop.ProofOptions{})} {
			r := exchangeWith(proof)
			if r.Status != http.StatusBadRequest || r.str("error") != wire.ErrInvalidDPoPProof {
				t.Fatalf("%s: %d %s", name, r.Status, r.Body)
			}
		}
		r = exchangeWith(key.proof(t, "POST", tokenURL, dpop.ProofOptions{}))
		status(t, r, http.StatusOK)
		if c := tokenClaims(t, r.str("access_token")); c.Cnf == nil || c.Cnf.JKT != key.Thumbprint() {
			t.Fatalf("derived cnf %+v: the binding was dropped", c.Cnf)
		}

		// mt5-api cannot sign for the caller's key: it forwards the proof the
		// token came with to it. Fresh, of the token's key, for that token.
		api := "https://mt5-api.example/api/v1/trades"
		forwarded := key.proof(t, "POST", api, dpop.ProofOptions{AccessToken: bound})
		form.Set("subject_token_dpop", forwarded)
		r = exchangeWith("")
		status(t, r, http.StatusOK)
		if c := tokenClaims(t, r.str("access_token")); c.Cnf != nil || c.Subject != "batch" || c.Act == nil {
			t.Fatalf("derived claims %+v: mt5-api sent no key of its own, so the token is its bearer token", c)
		}
		refused := map[string]string{
			"the same proof again":   forwarded,
			"a proof without ath":    key.proof(t, "POST", api, dpop.ProofOptions{}),
			"a proof of another key": other.proof(t, "POST", api, dpop.ProofOptions{AccessToken: bound}),
			"not a proof":            "x.y.z",
		}
		for name, proof := range refused {
			form.Set("subject_token_dpop", proof)
			if r := exchangeWith(""); r.Status != http.StatusBadRequest || r.str("error") != wire.ErrInvalidDPoPProof {
				t.Fatalf("%s: %d %s", name, r.Status, r.Body)
			}
		}
	})

	t.Run("a guarded service sees the trader acted for by mt5-api, and only what she holds", func(t *testing.T) {
		// The scope last: the first requirement not met is the one refused.
		risk := w.service(t, riskAud, guard.ActingForUser(), guard.ActedBy("mt5-api"), guard.NoImpersonation(), guard.AllOf("trade:open"))
		tok, _ := w.exchangeOK("mt5-api", subject, url.Values{"audience": {riskAud}})
		if st, s, e := risk.call(tok, ""); st != http.StatusOK || s.Subject != alice || s.Client != "mt5-api" ||
			!slices.Equal(s.Actors, []string{"mt5-api"}) || !sameSet(s.Scopes, []string{"trade:read", "trade:open"}) {
			t.Fatalf("risk: %d %s %+v", st, e, s)
		}
		bobTok := w.userToken("dashboard", "bob")["access_token"].(string)
		narrow, _ := w.exchangeOK("mt5-api", subject, url.Values{"audience": {riskAud}, "scope": {"trade:read"}})
		helperTok, _ := w.exchangeOK("helper", w.userToken("portal", "alice")["access_token"].(string), url.Values{"audience": {riskAud}})
		impTok, _ := w.exchangeOK("imp", subject, url.Values{"audience": {riskAud}})
		mt5Own := ts.token("mt5-api", w.secrets["mt5-api"], url.Values{"resource": {riskAud}})
		refused := []struct {
			name, token string
			status      int
			code        string
		}{
			{"the trader's own token, meant for mt5-api", subject, http.StatusUnauthorized, wire.ErrInvalidToken},
			{"a scope the trader lacks (bob)", w.mustExchange(t, "mt5-api", bobTok, riskAud), http.StatusForbidden, wire.ErrInsufficientScope},
			{"a scope mt5-api narrowed away", narrow, http.StatusForbidden, wire.ErrInsufficientScope},
			{"another actor", helperTok, http.StatusForbidden, wire.ErrForbidden},
			{"impersonation", impTok, http.StatusForbidden, wire.ErrForbidden},
			{"mt5-api acting for itself", mt5Own, http.StatusForbidden, wire.ErrForbidden},
		}
		for _, tt := range refused {
			if st, _, e := risk.call(tt.token, ""); st != tt.status || e != tt.code {
				t.Errorf("%s: %d %s, want %d %s", tt.name, st, e, tt.status, tt.code)
			}
		}
	})

	t.Run("every exchange is audited", func(t *testing.T) {
		// Alice's tokens were exchanged many times above: take the event of this subject token.
		ev := ts.waitEventWhere("token.exchanged", alice, func(ev map[string]any) bool {
			d, _ := ev["details"].(map[string]any)
			return d["root_jti"] == subClaims.ID
		})
		d, _ := ev["details"].(map[string]any)
		if d["sub"] != alice || d["aud"] == nil || d["scope"] == nil || d["actor_chain"] == nil || d["root_jti"] != subClaims.ID {
			t.Fatalf("audit details %v", d)
		}
		denied := ts.waitEvent("token.exchange_denied", "")
		if dd, _ := denied["details"].(map[string]any); dd["error"] == nil || dd["reason"] == nil {
			t.Fatalf("denial details %v", dd)
		}
	})

	t.Run("policy administration", func(t *testing.T) {
		r := ts.jsonReq("GET", "/api/v1/service-clients/mt5-api", w.operator, nil)
		status(t, r, http.StatusOK)
		pol, _ := r.JSON["token_exchange"].(map[string]any)
		if pol["delegate"] != true || pol["max_depth"] != float64(3) || len(pol["targets"].([]any)) != 3 ||
			pol["resources"].([]any)[0] != mt5Aud {
			t.Fatalf("token_exchange %v", r.JSON["token_exchange"])
		}
		bad := map[string]any{"name": "Bad", "grant_types": []string{wire.GrantTokenExchange}, "token_exchange": map[string]any{
			"resources": []string{"not a uri"}, "max_depth": 11, "actors": []string{"no spaces allowed"},
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"no:such-scope"}}, {"audience": riskAud, "scopes": []string{}}}}}
		r = ts.jsonReq("POST", "/api/v1/service-clients", w.operator, bad)
		status(t, r, http.StatusUnprocessableEntity)
		for _, want := range []string{"resources", "max_depth", "actors", "unknown scopes", "listed twice"} {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("422 does not name %q: %s", want, r.Body)
			}
		}
		pub := map[string]any{"name": "SPA", "client_type": "public", "redirect_uris": []string{"https://spa.test/cb"},
			"grant_types": []string{"authorization_code", wire.GrantTokenExchange}}
		status(t, ts.jsonReq("POST", "/api/v1/service-clients", w.operator, pub), http.StatusUnprocessableEntity)
		// Letting a client carry a scope to another service is a grant: an
		// administrator who lacks trade:open cannot.
		limID, limSecret := ts.createClient(map[string]any{"name": "Limited admin", "scope_ids": []string{"admin:clients", "trade:read"}})
		limited := ts.token(limID, limSecret, nil)
		r = ts.jsonReq("POST", "/api/v1/service-clients", limited, map[string]any{"name": "Sneaky",
			"grant_types": []string{wire.GrantTokenExchange}, "token_exchange": map[string]any{"delegate": true,
				"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read", "trade:open"}}}}})
		status(t, r, http.StatusForbidden)
		if !strings.Contains(r.str("error_description"), "trade:open") {
			t.Fatalf("403 does not name the scope: %s", r.Body)
		}
		r = ts.jsonReq("POST", "/api/v1/service-clients", limited, map[string]any{"name": "Reader",
			"grant_types": []string{wire.GrantTokenExchange}, "token_exchange": map[string]any{"delegate": true,
				"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}})
		status(t, r, http.StatusCreated)
	})

	t.Run("metadata lists the grant", func(t *testing.T) {
		md := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
		grants, _ := md.JSON["grant_types_supported"].([]any)
		if !slices.Contains(grants, any(wire.GrantTokenExchange)) {
			t.Fatalf("grant_types_supported %v", grants)
		}
	})
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
