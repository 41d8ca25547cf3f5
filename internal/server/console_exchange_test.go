package server_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestConsoleTokenExchangePolicy: an administrator sets a service's
// token-exchange policy and grant on the client's console page, and the
// service can then exchange a token it was sent; a policy that does not
// parse, or that would let the service carry a scope the administrator
// does not hold, is refused in words and changes nothing.
func TestConsoleTokenExchangePolicy(t *testing.T) {
	t.Parallel()
	ts := hashingServer(t)
	partialUser(t, ts, "kit", "exchange-keepers", "admin:clients", "trade:read")
	batchID, batchSecret := ts.createClient(map[string]any{"name": "Batch", "audiences": []string{mt5Aud}, "scope_ids": []string{"trade:read"}})
	svcID, svcSecret := ts.createClient(map[string]any{"name": "mt5-api", "client_id": "mt5-svc"})
	b := consoleSignIn(t, ts, "kit")
	page := "/admin/clients/" + svcID
	act := func(form url.Values) string {
		t.Helper()
		p := b.get(ts.URL + page)
		if p.Status != http.StatusOK || p.Form.Get("csrf") == "" {
			t.Fatalf("client page: %d %.300s", p.Status, p.Body)
		}
		form.Set("csrf", p.Form.Get("csrf"))
		res := b.post(ts.URL+page+"/exchange", form)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("POST exchange: %d %.300s", res.Status, res.Body)
		}
		return html.UnescapeString(b.get(ts.URL + res.Header.Get("Location")).Body)
	}
	exchange := func() *response {
		subject := ts.token(batchID, batchSecret, url.Values{"resource": {mt5Aud}})
		return ts.form("/oauth2/token", url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token": {subject},
			"subject_token_type": {wire.TokenTypeAccessToken}, "audience": {riskAud}}, svcID, svcSecret)
	}
	oauthError(t, exchange(), wire.ErrUnauthorizedClient)

	body := act(url.Values{"grant": {"1"}, "token_exchange": {`{"resources": ["` + mt5Aud + `"], "delegate": true,
		"targets": [{"audience": "` + riskAud + `", "scopes": ["trade:read"]}]}`}})
	if strings.Contains(body, `class="flash error"`) || !strings.Contains(body, "Token-exchange policy of mt5-svc saved; it may use the grant.") ||
		!strings.Contains(body, `"audience": "`+riskAud+`"`) || !strings.Contains(body, `id="x-grant" name="grant" type="checkbox" value="1" checked`) {
		t.Fatalf("after saving the policy:\n%s", body)
	}
	r := exchange()
	status(t, r, http.StatusOK)
	if c := tokenClaims(t, r.str("access_token")); c.Act == nil || c.Act.ClientID != svcID || c.Subject != batchID {
		t.Fatalf("exchanged claims %+v", c)
	}

	refused := map[string]struct {
		form url.Values
		want string
	}{
		"not JSON":          {url.Values{"grant": {"1"}, "token_exchange": {`{"resources": [`}}, "must be one JSON object"},
		"a misspelt member": {url.Values{"grant": {"1"}, "token_exchange": {`{"delegates": true}`}}, "must be one JSON object"},
		"trailing text":     {url.Values{"grant": {"1"}, "token_exchange": {`{"delegate": true} {}`}}, "must be one JSON object"},
		"a scope kit lacks": {url.Values{"grant": {"1"}, "token_exchange": {`{"resources": ["` + mt5Aud + `"], "delegate": true,
			"targets": [{"audience": "` + riskAud + `", "scopes": ["trade:read", "trade:open"]}]}`}}, "trade:open"},
	}
	for name, tt := range refused {
		body := act(tt.form)
		if !strings.Contains(body, `class="flash error"`) || !strings.Contains(body, tt.want) {
			t.Fatalf("%s: the page does not refuse naming %q:\n%s", name, tt.want, body)
		}
	}
	got := ts.jsonReq("GET", "/api/v1/service-clients/"+svcID, ts.adminToken(), nil)
	pol, _ := got.JSON["token_exchange"].(map[string]any)
	if targets, _ := pol["targets"].([]any); len(targets) != 1 || !strings.Contains(string(got.Body), `"scopes":["trade:read"]`) {
		t.Fatalf("a refused policy changed the client: %s", got.Body)
	}

	// Without the grant the policy stays, unused.
	body = act(url.Values{"token_exchange": {`{"resources": ["` + mt5Aud + `"], "delegate": true,
		"targets": [{"audience": "` + riskAud + `", "scopes": ["trade:read"]}]}`}})
	if !strings.Contains(body, "it may not use the grant") {
		t.Fatalf("after removing the grant:\n%s", body)
	}
	oauthError(t, exchange(), wire.ErrUnauthorizedClient)
	if e := ts.waitAudit(t, "client.updated", svcID); e["actor_type"] != "user" {
		t.Errorf("policy change audited as %v %v", e["actor_type"], e["actor_id"])
	}
}
