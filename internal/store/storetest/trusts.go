package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// testClientCredentials checks the fields of clients that hold no secret:
// registered keys and the tls_client_auth certificate value.
func testClientCredentials(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	jwks := json.RawMessage(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1"}]}`)
	c := must(s.CreateClient(ctx, store.Client{ClientID: "keyed", Type: "confidential", TokenEndpointAuthMethod: "private_key_jwt",
		JWKS: jwks}))(t)
	eq(t, "jwks round trip", string(c.JWKS), string(jwks))
	eq(t, "no jwks_uri", c.JWKSURI, "")
	c = must(s.UpdateClient(ctx, "keyed", func(c store.Client) (store.Client, error) {
		c.JWKS, c.JWKSURI = nil, "https://keys.example.com/jwks.json"
		return c, nil
	}))(t)
	eq(t, "jwks cleared", c.JWKS, json.RawMessage(nil))
	eq(t, "jwks_uri", must(s.GetClient(ctx, "keyed"))(t).JWKSURI, "https://keys.example.com/jwks.json")

	tls := store.TLSClientAuth{Field: store.TLSSANURI, Value: "spiffe://example.org/ns/prod/sa/bot"}
	m := must(s.CreateClient(ctx, store.Client{ClientID: "cert", Type: "confidential", TokenEndpointAuthMethod: "tls_client_auth",
		TLSClientAuth: tls}))(t)
	eq(t, "tls_client_auth round trip", must(s.GetClient(ctx, m.ClientID))(t).TLSClientAuth, tls)
}

func testTrusts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	k8s := store.Trust{Name: "prod-cluster", Description: "Production Kubernetes", Issuer: "https://kubernetes.default.svc",
		KeySource: store.KeySourceOIDC, Audience: "permiso", MaxTokenAge: time.Hour, Active: true, CreatedAt: t0}
	ch := collect(t, s)
	got := must(s.CreateTrust(ctx, k8s))(t)
	await(t, ch, store.Change{Kind: store.ChangeTrust}) // replicas reload their trusts
	if !uuidRE.MatchString(got.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", got.ID)
	}
	want := k8s
	want.ID, want.UpdatedAt = got.ID, t0
	eq(t, "created trust", got, want)
	eq(t, "GetTrust", must(s.GetTrust(ctx, "prod-cluster"))(t), want)

	spiffe := store.Trust{Name: "spire", KeySource: store.KeySourceSPIFFE, TrustDomain: "example.org",
		JWKS: json.RawMessage(`{"keys":[]}`), Audience: "https://permiso.example.com", MaxTokenAge: 5 * time.Minute, Active: true}
	sp := must(s.CreateTrust(ctx, spiffe))(t)
	eq(t, "static bundle", string(sp.JWKS), `{"keys":[]}`)
	// A second SPIFFE trust without an issuer is fine: only non-empty
	// issuers must be unique.
	must(s.CreateTrust(ctx, store.Trust{Name: "spire-staging", KeySource: store.KeySourceSPIFFE, TrustDomain: "staging.example.org",
		MaxTokenAge: time.Minute}))(t)

	for name, dup := range map[string]store.Trust{
		"duplicate name":         {Name: "prod-cluster", Issuer: "https://other", KeySource: store.KeySourceOIDC},
		"duplicate issuer":       {Name: "other", Issuer: "https://kubernetes.default.svc", KeySource: store.KeySourceOIDC},
		"duplicate trust domain": {Name: "other2", TrustDomain: "example.org", KeySource: store.KeySourceSPIFFE},
	} {
		_, err := s.CreateTrust(ctx, dup)
		wantErr(t, name, err, store.ErrConflict)
	}
	eq(t, "ListTrusts by name", ids(must(s.ListTrusts(ctx))(t), func(t store.Trust) string { return t.Name }),
		[]string{"prod-cluster", "spire", "spire-staging"})

	up := must(s.UpdateTrust(ctx, "prod-cluster", func(t store.Trust) (store.Trust, error) {
		t.Active, t.MaxTokenAge, t.KeySource, t.JWKSURI = false, 2*time.Hour, store.KeySourceJWKSURI, "https://k8s.example.com/openid/v1/jwks"
		return t, nil
	}))(t)
	eq(t, "updated", []any{up.Active, up.MaxTokenAge, up.KeySource, up.JWKSURI, up.ID, up.CreatedAt.Equal(t0)},
		[]any{false, 2 * time.Hour, store.KeySourceJWKSURI, "https://k8s.example.com/openid/v1/jwks", got.ID, true})
	_, err := s.UpdateTrust(ctx, "nope", func(t store.Trust) (store.Trust, error) { return t, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
	_, err = s.GetTrust(ctx, "nope")
	wantErr(t, "get unknown", err, store.ErrNotFound)

	// Bindings.
	bot := must(s.CreateClient(ctx, store.Client{ClientID: "bot", Type: "confidential"}))(t)
	api := must(s.CreateClient(ctx, store.Client{ClientID: "api", Type: "confidential"}))(t)
	cond := map[string][]string{"kubernetes.io.namespace": {"trading"}, "kubernetes.io.serviceaccount.name": {"bot"}}
	b1 := must(s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: got.ID, ClientID: bot.ID,
		Subject: "system:serviceaccount:trading:bot", Conditions: cond, CreatedAt: t0}))(t)
	eq(t, "binding", []any{b1.TrustID, b1.ClientID, b1.ClientName, b1.Subject, b1.Conditions},
		[]any{got.ID, bot.ID, "bot", "system:serviceaccount:trading:bot", cond})
	b2 := must(s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: sp.ID, ClientID: bot.ID,
		Subject: "spiffe://example.org/trading/*", CreatedAt: t0.Add(time.Second)}))(t)
	eq(t, "no conditions read as empty", b2.Conditions, map[string][]string{})
	_, err = s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: got.ID, ClientID: api.ID, Subject: "system:serviceaccount:trading:bot"})
	wantErr(t, "a (trust, subject) pair names one client", err, store.ErrConflict)
	_, err = s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: got.ID, ClientID: "00000000-0000-4000-8000-000000000000", Subject: "x"})
	wantErr(t, "unknown client", err, store.ErrNotFound)
	_, err = s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: "00000000-0000-4000-8000-000000000000", ClientID: api.ID, Subject: "x"})
	wantErr(t, "unknown trust", err, store.ErrNotFound)

	bid := func(b store.TrustBinding) string { return b.ID }
	eq(t, "all bindings", ids(must(s.ListTrustBindings(ctx, store.TrustBindingFilter{}))(t), bid), []string{b1.ID, b2.ID})
	eq(t, "by trust", ids(must(s.ListTrustBindings(ctx, store.TrustBindingFilter{TrustID: sp.ID}))(t), bid), []string{b2.ID})
	eq(t, "by client", len(must(s.ListTrustBindings(ctx, store.TrustBindingFilter{ClientID: api.ID}))(t)), 0)

	wantErr(t, "delete a trust in use", s.DeleteTrust(ctx, "spire"), store.ErrConflict)
	noErr(t, s.DeleteTrustBinding(ctx, b2.ID))
	wantErr(t, "delete binding twice", s.DeleteTrustBinding(ctx, b2.ID), store.ErrNotFound)
	noErr(t, s.DeleteTrust(ctx, "spire"))
	wantErr(t, "delete trust twice", s.DeleteTrust(ctx, "spire"), store.ErrNotFound)

	// Deleting a client removes its bindings.
	noErr(t, s.DeleteClient(ctx, "bot"))
	eq(t, "bindings after client delete", len(must(s.ListTrustBindings(ctx, store.TrustBindingFilter{}))(t)), 0)
}
