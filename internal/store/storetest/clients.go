package storetest

import (
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func fullClient(scopes ...store.Scope) store.Client {
	c := store.Client{
		ClientID:                "svc-trading",
		Name:                    "Trading bot",
		Description:             "Places orders",
		Type:                    "confidential",
		Active:                  true,
		Trusted:                 true,
		GrantTypes:              []string{"client_credentials", "refresh_token"},
		TokenEndpointAuthMethod: "client_secret_basic",
		Audiences:               []string{"https://api.example.com", "trading"},
		RedirectURIs:            []string{"https://app.example.com/cb"},
		AccessTokenLifetime:     900,
		RefreshTokenLifetime:    ptr(86400),
		RateLimitPerMinute:      60,
		RateLimitPerHour:        1000,
		AllowedIPs:              []string{"10.0.0.0/8", "192.168.1.1"},
		WebhookURL:              "https://hooks.example.com",
		ContactEmail:            "ops@example.com",
		WebsiteURL:              "https://example.com",
		DPoPBoundAccessTokens:   true,
		TokenExchange: store.ExchangePolicy{
			Resources: []string{"https://api.example.com"},
			Targets:   []store.ExchangeTarget{{Audience: "https://risk.example.com", Scopes: []string{"b:read"}}},
			Delegate:  true, MaxDepth: 2, Actors: []string{"gateway"},
		},
		CreatedAt: t0,
	}
	for _, s := range scopes {
		c.ScopeIDs = append(c.ScopeIDs, s.ID)
	}
	return c
}

func testClients(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := must(s.CreateScope(ctx, store.Scope{Name: "a:read"}))(t)
	b := must(s.CreateScope(ctx, store.Scope{Name: "b:read"}))(t)

	in := fullClient(b, a)
	c := must(s.CreateClient(ctx, in))(t)
	if !uuidRE.MatchString(c.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", c.ID)
	}
	want := in
	want.ID, want.UpdatedAt = c.ID, c.UpdatedAt
	want.ScopeIDs, want.Scopes = []string{a.ID, b.ID}, []store.Scope{a, b}
	eq(t, "created client", c, want)
	eq(t, "GetClient", must(s.GetClient(ctx, "svc-trading"))(t), want)
	eq(t, "ScopeNames", c.ScopeNames(), []string{"a:read", "b:read"})

	pub := must(s.CreateClient(ctx, store.Client{ClientID: "spa", Type: "public"}))(t)
	eq(t, "nil refresh lifetime", pub.RefreshTokenLifetime, (*int)(nil))
	eq(t, "nil last used", pub.LastUsed, (*time.Time)(nil))
	eq(t, "empty lists", len(pub.GrantTypes)+len(pub.Audiences)+len(pub.RedirectURIs)+len(pub.AllowedIPs)+len(pub.ScopeIDs), 0)
	eq(t, "no exchange policy", pub.TokenExchange.IsZero(), true)

	_, err := s.CreateClient(ctx, store.Client{ClientID: "svc-trading"})
	wantErr(t, "duplicate client_id", err, store.ErrConflict)
	_, err = s.CreateClient(ctx, store.Client{ClientID: "bad", ScopeIDs: []string{"no-such-scope"}})
	wantErr(t, "unknown scope", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "bad")
	wantErr(t, "failed create left nothing", err, store.ErrNotFound)
	_, err = s.GetClient(ctx, "nobody")
	wantErr(t, "GetClient unknown", err, store.ErrNotFound)

	up := must(s.UpdateClient(ctx, "svc-trading", func(old store.Client) (store.Client, error) {
		eq(t, "fn sees current", old.Name, "Trading bot")
		eq(t, "fn sees dpop_bound_access_tokens", old.DPoPBoundAccessTokens, true)
		old.Name = "Trading bot v2"
		old.Active = false
		old.RefreshTokenLifetime = nil
		old.AllowedIPs = nil
		old.ScopeIDs = []string{b.ID}
		old.DPoPBoundAccessTokens, old.TLSClientCertificateBoundAccessTokens = false, true
		old.TokenExchange.Impersonate, old.TokenExchange.Delegate = true, false
		return old, nil
	}))(t)
	eq(t, "updated exchange policy", up.TokenExchange.Impersonate && !up.TokenExchange.Delegate &&
		up.TokenExchange.Targets[0].Scopes[0] == "b:read", true)
	eq(t, "updated name", up.Name, "Trading bot v2")
	eq(t, "updated binding", [2]bool{up.DPoPBoundAccessTokens, up.TLSClientCertificateBoundAccessTokens}, [2]bool{false, true})
	eq(t, "updated active", up.Active, false)
	eq(t, "updated lifetime", up.RefreshTokenLifetime, (*int)(nil))
	eq(t, "updated ips", len(up.AllowedIPs), 0)
	eq(t, "updated scopes", up.Scopes, []store.Scope{b})
	eq(t, "id kept", up.ID, c.ID)
	eq(t, "persisted", must(s.GetClient(ctx, "svc-trading"))(t), up)

	_, err = s.UpdateClient(ctx, "svc-trading", func(old store.Client) (store.Client, error) {
		old.ClientID = "spa"
		return old, nil
	})
	wantErr(t, "rename onto existing", err, store.ErrConflict)
	_, err = s.UpdateClient(ctx, "nobody", func(old store.Client) (store.Client, error) { return old, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)

	renamed := must(s.UpdateClient(ctx, "spa", func(old store.Client) (store.Client, error) {
		old.ClientID = "spa-2"
		return old, nil
	}))(t)
	eq(t, "renamed id kept", renamed.ID, pub.ID)
	_, err = s.GetClient(ctx, "spa")
	wantErr(t, "old client_id gone", err, store.ErrNotFound)

	wantErr(t, "delete unknown", s.DeleteClient(ctx, "nobody"), store.ErrNotFound)
	noErr(t, s.DeleteClient(ctx, "spa-2"))
	_, err = s.GetClient(ctx, "spa-2")
	wantErr(t, "deleted", err, store.ErrNotFound)
}

func testClientList(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	sc := must(s.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	for i, c := range []store.Client{
		{ClientID: "alpha", Name: "Alpha Service", Type: "confidential", Active: true, Trusted: true, ScopeIDs: []string{sc.ID}},
		{ClientID: "beta", Name: "Beta", Description: "the ALPHA backup", Type: "confidential", Active: false},
		{ClientID: "gamma-app", Name: "Gamma", Type: "public", Active: true, ScopeIDs: []string{sc.ID}},
	} {
		c.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		must(s.CreateClient(ctx, c))(t)
	}
	cases := []struct {
		name  string
		f     store.ClientFilter
		want  []string
		total int
	}{
		{"all", store.ClientFilter{}, []string{"alpha", "beta", "gamma-app"}, 3},
		{"search name/description", store.ClientFilter{Search: "alpha"}, []string{"alpha", "beta"}, 2},
		{"search client_id", store.ClientFilter{Search: "-APP"}, []string{"gamma-app"}, 1},
		{"active", store.ClientFilter{Active: ptr(true)}, []string{"alpha", "gamma-app"}, 2},
		{"inactive", store.ClientFilter{Active: ptr(false)}, []string{"beta"}, 1},
		{"trusted", store.ClientFilter{Trusted: ptr(true)}, []string{"alpha"}, 1},
		{"untrusted", store.ClientFilter{Trusted: ptr(false)}, []string{"beta", "gamma-app"}, 2},
		{"type", store.ClientFilter{Type: "public"}, []string{"gamma-app"}, 1},
		{"scope", store.ClientFilter{ScopeID: sc.ID}, []string{"alpha", "gamma-app"}, 2},
		{"combined", store.ClientFilter{ScopeID: sc.ID, Type: "confidential"}, []string{"alpha"}, 1},
		{"page", store.ClientFilter{Page: store.Page{Offset: 1, Limit: 1}}, []string{"beta"}, 3},
	}
	for _, c := range cases {
		got, total, err := s.ListClients(ctx, c.f)
		noErr(t, err)
		eq(t, c.name, ids(got, clientID), c.want)
		eq(t, c.name+" total", total, c.total)
	}
	list, _, err := s.ListClients(ctx, store.ClientFilter{ScopeID: sc.ID})
	noErr(t, err)
	eq(t, "list fills scopes", list[1].Scopes, []store.Scope{sc})
}

func testClientUsage(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	must(s.CreateClient(ctx, store.Client{ClientID: "c", Type: "confidential"}))(t)
	noErr(t, s.RecordClientUsage(ctx, "c", 5, t0.Add(time.Hour)))
	noErr(t, s.RecordClientUsage(ctx, "c", 3, t0)) // an older batch does not move last_used back
	c := must(s.GetClient(ctx, "c"))(t)
	eq(t, "total requests", c.TotalRequests, int64(8))
	eqTimeP(t, "last used", c.LastUsed, ptr(t0.Add(time.Hour)))
	wantErr(t, "usage of unknown client", s.RecordClientUsage(ctx, "nobody", 1, t0), store.ErrNotFound)

	// UpdateClient does not reset the counters.
	c = must(s.UpdateClient(ctx, "c", func(c store.Client) (store.Client, error) { c.Name = "n"; return c, nil }))(t)
	eq(t, "counter survives update", c.TotalRequests, int64(8))
}

func testClientSecrets(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := must(s.CreateClient(ctx, store.Client{ClientID: "c", Type: "confidential"}))(t)
	other := must(s.CreateClient(ctx, store.Client{ClientID: "other", Type: "confidential"}))(t)

	s1 := must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("h1"), CreatedAt: t0}))(t)
	s2 := must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("h2"), CreatedAt: t0.Add(time.Second), ExpiresAt: ptr(t0.Add(time.Hour))}))(t)
	s3 := must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("h3"), CreatedAt: t0.Add(2 * time.Second), ExpiresAt: ptr(t0.Add(5 * time.Minute))}))(t)
	keep := must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("h4"), CreatedAt: t0.Add(3 * time.Second)}))(t)
	must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: other.ID, Hash: []byte("o1"), CreatedAt: t0}))(t)
	if !uuidRE.MatchString(s1.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", s1.ID)
	}
	_, err := s.AddClientSecret(ctx, store.ClientSecret{ClientID: "no-such-client", Hash: []byte("x")})
	wantErr(t, "secret for unknown client", err, store.ErrNotFound)

	secretID := func(s store.ClientSecret) string { return s.ID }
	got := must(s.ListClientSecrets(ctx, c.ID, t0))(t)
	eq(t, "all live at t0", ids(got, secretID), []string{s1.ID, s2.ID, s3.ID, keep.ID})
	eq(t, "secret round trip", got[1], s2)
	eq(t, "hash", string(got[0].Hash), "h1")
	eq(t, "expired one gone", ids(must(s.ListClientSecrets(ctx, c.ID, t0.Add(10*time.Minute)))(t), secretID), []string{s1.ID, s2.ID, keep.ID})
	eq(t, "expiry is exclusive", ids(must(s.ListClientSecrets(ctx, c.ID, t0.Add(time.Hour)))(t), secretID), []string{s1.ID, keep.ID})

	// Rotation: every secret but keep now expires at +10m, unless it expires sooner.
	at := t0.Add(10 * time.Minute)
	noErr(t, s.ExpireClientSecrets(ctx, c.ID, keep.ID, at))
	got = must(s.ListClientSecrets(ctx, c.ID, t0))(t)
	eq(t, "after expire", ids(got, secretID), []string{s1.ID, s2.ID, s3.ID, keep.ID})
	eqTimeP(t, "s1 expiry set", got[0].ExpiresAt, &at)
	eqTimeP(t, "s2 expiry shortened", got[1].ExpiresAt, &at)
	eqTimeP(t, "s3 sooner expiry kept", got[2].ExpiresAt, ptr(t0.Add(5*time.Minute)))
	eqTimeP(t, "kept secret untouched", got[3].ExpiresAt, nil)
	eq(t, "after rotation window", ids(must(s.ListClientSecrets(ctx, c.ID, at))(t), secretID), []string{keep.ID})
	eq(t, "other client untouched", len(must(s.ListClientSecrets(ctx, other.ID, t0.Add(24*time.Hour)))(t)), 1)

	// Deleting the client removes its secrets.
	noErr(t, s.DeleteClient(ctx, "c"))
	eq(t, "secrets cascade", len(must(s.ListClientSecrets(ctx, c.ID, t0))(t)), 0)
}
