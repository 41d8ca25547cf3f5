package server_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestTokenExchangeExternalSubject: a JWT of a trust (workload identity
// federation) is a subject token; it stands for the client its subject is
// bound to, and the confused-deputy rule applies to its aud as to any.
func TestTokenExchangeExternalSubject(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, allowLoopback)
	k8s := jwttest.NewKubernetesIssuer(t)
	const deployAud = "https://deploy.trading.test"
	ts.mustJSON(t, "POST", "/api/v1/trusts", map[string]any{"name": "prod-cluster", "issuer": k8s.URL, "key_source": "oidc",
		"audience": deployAud, "max_token_age": 3600}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Batch job", "client_id": "batch-job",
		"token_endpoint_auth_method": "federated_jwt", "scope_ids": []string{"trade:read", "market:data"}}, 201)
	ts.mustJSON(t, "POST", "/api/v1/trusts/prod-cluster/bindings", map[string]any{"client_id": "batch-job",
		"subject": "system:serviceaccount:trading:batch"}, 201)
	policy := func(resource string) map[string]any {
		return map[string]any{"resources": []string{resource}, "delegate": true,
			"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}
	}
	deployID, deploySecret := ts.createClient(map[string]any{"client_id": "deployer", "name": "Deployer",
		"grant_types": []string{wire.GrantTokenExchange}, "token_exchange": policy(deployAud)})
	otherID, otherSecret := ts.createClient(map[string]any{"client_id": "other", "name": "Other",
		"grant_types": []string{wire.GrantTokenExchange}, "token_exchange": policy("https://other.trading.test")})
	exchange := func(id, secret, subject string) *response {
		return ts.form("/oauth2/token", url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token": {subject},
			"subject_token_type": {wire.TokenTypeJWT}, "audience": {riskAud}}, id, secret)
	}
	now := time.Now()
	sa := k8s.ServiceAccountToken(t, "trading", "batch", []string{deployAud}, time.Hour, now)

	r := exchange(deployID, deploySecret, sa)
	status(t, r, http.StatusOK)
	c := tokenClaims(t, r.str("access_token"))
	if c.Subject != "batch-job" || c.Type != wire.ClaimTypeService || c.ClientID != "deployer" || c.Act == nil ||
		c.Act.ClientID != "deployer" || c.RootID == "" || !sameSet(c.Scopes, []string{"trade:read"}) {
		t.Fatalf("claims %+v", c)
	}
	if c.Expiry > now.Add(time.Hour).Unix()+1 {
		t.Fatalf("exp %d outlives the external token", c.Expiry)
	}
	ev := ts.waitEvent("token.exchanged", "batch-job")
	if d, _ := ev["details"].(map[string]any); d["trust"] != "prod-cluster" {
		t.Fatalf("audit details %v", d)
	}

	// Not meant for other: its aud names deployer's resource only.
	oauthError(t, exchange(otherID, otherSecret, sa), wire.ErrInvalidRequest)
	// An identity no binding names, a token of the wrong audience, a forged one.
	oauthError(t, exchange(deployID, deploySecret, k8s.ServiceAccountToken(t, "trading", "intruder", []string{deployAud}, time.Hour, now)), wire.ErrInvalidRequest)
	oauthError(t, exchange(deployID, deploySecret, k8s.ServiceAccountToken(t, "trading", "batch", []string{"vault"}, time.Hour, now)), wire.ErrInvalidRequest)
	forged := jwttest.NewKey(t, "RS256", k8s.Key.KID).Sign(t, map[string]any{"iss": k8s.URL,
		"sub": "system:serviceaccount:trading:batch", "aud": []string{deployAud}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}, nil)
	oauthError(t, exchange(deployID, deploySecret, forged), wire.ErrInvalidRequest)
}
