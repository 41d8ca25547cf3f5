package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// testLoadClients reads every client in pages, in client_id order, each
// with its scopes and its live secrets.
func testLoadClients(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := must(s.CreateScope(ctx, store.Scope{Name: "a:read"}))(t)
	b := must(s.CreateScope(ctx, store.Scope{Name: "b:read"}))(t)
	now := time.Now().UTC().Truncate(time.Second)
	const n = 7
	for i := range n {
		c := must(s.CreateClient(ctx, store.Client{ClientID: fmt.Sprintf("bulk-%d", n-1-i), Type: "confidential",
			ScopeIDs: []string{b.ID, a.ID}, GrantTypes: []string{"client_credentials"}}))(t)
		if i%2 == 0 {
			must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("live")}))(t)
			past := now.Add(-time.Minute)
			must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("gone"), ExpiresAt: &past}))(t)
		}
	}
	var got []store.LoadedClient
	after := ""
	for pages := 0; ; pages++ {
		page := must(s.LoadClients(ctx, after, 3, now))(t)
		got = append(got, page...)
		if len(page) < 3 {
			eq(t, "pages", pages+1, 3)
			break
		}
		after = page[len(page)-1].ClientID
	}
	eq(t, "clients loaded", len(got), n)
	for i, c := range got {
		eq(t, "order", c.ClientID, fmt.Sprintf("bulk-%d", i))
		eq(t, "scopes", c.ScopeNames(), []string{"a:read", "b:read"})
		eq(t, "scope ids", c.ScopeIDs, []string{a.ID, b.ID})
		want := must(s.GetClient(ctx, c.ClientID))(t)
		eq(t, "same as GetClient", c.Client, want)
		live := must(s.ListClientSecrets(ctx, c.ID, now))(t)
		eq(t, "live secrets", c.Secrets, live)
		if (n-1-i)%2 == 0 && len(c.Secrets) != 1 {
			t.Errorf("%s: %d secrets, want the live one", c.ClientID, len(c.Secrets))
		}
	}
	eq(t, "past the end", len(must(s.LoadClients(ctx, "bulk-9", 3, now))(t)), 0)
}

// testClientStats follows the summary through every write: creation,
// enabling and trusting, usage (one client and many), deletion; and the
// busiest clients come in order.
func testClientStats(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	st := must(s.ClientStats(ctx, 3))(t)
	base := st
	eq(t, "no busy clients yet", len(st.Busiest), 0)
	for i, c := range []store.Client{
		{ClientID: "st-a", Active: true, Trusted: true},
		{ClientID: "st-b", Active: true},
		{ClientID: "st-c"},
		{ClientID: "st-d", Active: true},
	} {
		c.Type = "confidential"
		must(s.CreateClient(ctx, c))(t)
		eq(t, "total after create", must(s.ClientStats(ctx, 0))(t).Total, base.Total+i+1)
	}
	st = must(s.ClientStats(ctx, 0))(t)
	eq(t, "active", st.Active, base.Active+3)
	eq(t, "trusted", st.Trusted, base.Trusted+1)
	must(s.UpdateClient(ctx, "st-c", func(c store.Client) (store.Client, error) { c.Active, c.Trusted = true, true; return c, nil }))(t)
	must(s.UpdateClient(ctx, "st-a", func(c store.Client) (store.Client, error) { c.Active = false; return c, nil }))(t)
	must(s.UpdateClient(ctx, "st-b", func(c store.Client) (store.Client, error) { c.Name = "renamed"; return c, nil }))(t)
	st = must(s.ClientStats(ctx, 0))(t)
	eq(t, "active after updates", st.Active, base.Active+3)
	eq(t, "trusted after updates", st.Trusted, base.Trusted+2)

	at := time.Now().UTC().Truncate(time.Second)
	if err := s.RecordClientUsage(ctx, "st-b", 5, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordClientsUsage(ctx, map[string]int64{"st-a": 7, "st-c": 5, "st-d": 1, "gone": 100}, at); err != nil {
		t.Fatal(err)
	}
	st = must(s.ClientStats(ctx, 3))(t)
	eq(t, "requests", st.Requests, base.Requests+18)
	var busiest []string
	for _, u := range st.Busiest {
		busiest = append(busiest, u.ClientID)
	}
	eq(t, "busiest, ties by client_id", busiest, []string{"st-a", "st-b", "st-c"})
	eqTimeP(t, "last used", st.Busiest[0].LastUsed, &at)
	if err := s.DeleteClient(ctx, "st-a"); err != nil {
		t.Fatal(err)
	}
	st = must(s.ClientStats(ctx, 1))(t)
	eq(t, "total after delete", st.Total, base.Total+3)
	eq(t, "requests after delete", st.Requests, base.Requests+11)
	eq(t, "trusted after delete", st.Trusted, base.Trusted+1)
	eq(t, "busiest after delete", st.Busiest[0].ClientID, "st-b")
}

// testScopeRoleCounts counts the roles holding each scope, zero included.
func testScopeRoleCounts(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := must(s.CreateScope(ctx, store.Scope{Name: "src:a"}))(t)
	b := must(s.CreateScope(ctx, store.Scope{Name: "src:b"}))(t)
	must(s.CreateScope(ctx, store.Scope{Name: "src:none"}))(t)
	must(s.CreateRole(ctx, store.Role{Name: "src-r1", ScopeIDs: []string{a.ID, b.ID}}))(t)
	must(s.CreateRole(ctx, store.Role{Name: "src-r2", ScopeIDs: []string{a.ID}}))(t)
	got := must(s.ScopeRoleCounts(ctx))(t)
	eq(t, "src:a", got["src:a"], 2)
	eq(t, "src:b", got["src:b"], 1)
	n, ok := got["src:none"]
	eq(t, "src:none listed with zero", ok && n == 0, true)
}
