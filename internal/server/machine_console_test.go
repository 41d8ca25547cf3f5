package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestConsoleTrusts: an administrator sets up workload identity
// federation in the console alone — a trust for a Kubernetes cluster, a
// client without a secret, a binding with a namespace condition — checks
// the trust's keys there, and the pod's projected token then gets a token.
// Each step is in the audit log under the administrator's name.
func TestConsoleTrusts(t *testing.T) {
	ts := newTestServer(t, allowLoopback)
	k8s := jwttest.NewKubernetesIssuer(t)
	ts.createUser("ops", "admin")
	b := consoleSignIn(t, ts, "ops")

	act := func(path string, form url.Values) string {
		t.Helper()
		page := b.get(ts.URL + "/admin/trusts")
		if page.Status != http.StatusOK || page.Form.Get("csrf") == "" {
			t.Fatalf("trusts page: %d %.300s", page.Status, page.Body)
		}
		form.Set("csrf", page.Form.Get("csrf"))
		res := b.post(ts.URL+path, form)
		if res.Status != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %.300s", path, res.Status, res.Body)
		}
		next := b.get(ts.URL + res.Header.Get("Location"))
		if strings.Contains(next.Body, `class="flash error"`) {
			t.Fatalf("POST %s refused:\n%s", path, next.Body)
		}
		return next.Body
	}
	act("/admin/trusts", url.Values{"name": {"prod-cluster"}, "key_source": {"oidc"}, "issuer": {k8s.URL},
		"audience": {"permiso"}, "max_token_age": {"3600"}})
	body := act("/admin/clients", url.Values{"name": {"Pricer"}, "client_id": {"pricer"}, "client_type": {"confidential"},
		"auth_method": {wire.AuthFederatedJWT}})
	if strings.Contains(body, "new-secret") || !strings.Contains(body, "None yet: this client cannot get tokens") {
		t.Fatalf("federated client page:\n%s", body)
	}
	body = act("/admin/trusts/prod-cluster/bindings", url.Values{"client_id": {"pricer"},
		"subject": {"system:serviceaccount:trading:pricer"}, "conditions": {"kubernetes.io.namespace = trading"}})
	if !strings.Contains(body, "kubernetes.io.namespace = trading") {
		t.Fatalf("binding not shown:\n%s", body)
	}
	if p := b.get(ts.URL + "/admin/trusts/prod-cluster?check=keys"); !strings.Contains(p.Body, "Permiso fetched 1 key: <code>"+k8s.Key.KID+"</code>") {
		t.Fatalf("key check:\n%s", p.Body)
	}
	if p := b.get(ts.URL + "/admin/clients/pricer"); !strings.Contains(p.Body, "system:serviceaccount:trading:pricer") || strings.Contains(p.Body, "rotate-secret") {
		t.Fatalf("client page:\n%s", p.Body)
	}

	good := k8s.ServiceAccountToken(t, "trading", "pricer", []string{"permiso"}, time.Hour, time.Now())
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, good); r.Status != 200 {
		t.Fatalf("projected token after console setup: %d %s", r.Status, r.Body)
	}
	// The same service account name in another namespace is not the client.
	other := k8s.ServiceAccountToken(t, "default", "pricer", []string{"permiso"}, time.Hour, time.Now())
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, other); r.Status != 401 || r.str("error") != "invalid_client" {
		t.Fatalf("other namespace: %d %s", r.Status, r.Body)
	}
	for typ, target := range map[string]string{"trust.created": "prod-cluster", "trust.binding_created": "pricer"} {
		if e := ts.waitAudit(t, typ, target); e["actor_type"] != "user" {
			t.Errorf("%s by %v %v", typ, e["actor_type"], e["actor_id"])
		}
	}

	// Disabling the trust in the console stops its tokens at once.
	act("/admin/trusts/prod-cluster/status", url.Values{"active": {"0"}})
	if r := ts.assertionToken(wire.AssertionTypeJWTBearer, good); r.Status != 401 {
		t.Fatalf("disabled trust: %d %s", r.Status, r.Body)
	}
}
