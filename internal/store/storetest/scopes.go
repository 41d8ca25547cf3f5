package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testScopes(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	sc := must(s.CreateScope(ctx, store.Scope{Name: "trade:read", Description: "Read trades", Resource: "trading"}))(t)
	if !uuidRE.MatchString(sc.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", sc.ID)
	}
	if sc.CreatedAt.IsZero() || sc.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want a UTC time", sc.CreatedAt)
	}
	got := must(s.GetScope(ctx, sc.ID))(t)
	eq(t, "GetScope", got, sc)
	eq(t, "GetScopeByName", must(s.GetScopeByName(ctx, "trade:read"))(t), sc)

	given := must(s.CreateScope(ctx, store.Scope{ID: "scope-fixed-id", Name: "x", CreatedAt: t0}))(t)
	eq(t, "caller id kept", given.ID, "scope-fixed-id")
	eqTime(t, "caller CreatedAt kept", must(s.GetScope(ctx, "scope-fixed-id"))(t).CreatedAt, t0)

	_, err := s.CreateScope(ctx, store.Scope{Name: "trade:read"})
	wantErr(t, "duplicate name", err, store.ErrConflict)
	_, err = s.GetScope(ctx, "no-such-id")
	wantErr(t, "GetScope unknown", err, store.ErrNotFound)
	_, err = s.GetScopeByName(ctx, "no:such")
	wantErr(t, "GetScopeByName unknown", err, store.ErrNotFound)

	up := must(s.UpdateScope(ctx, sc.ID, func(old store.Scope) (store.Scope, error) {
		eq(t, "fn receives current", old.Description, "Read trades")
		old.Description = "Read all trades"
		old.Name = "trade:view"
		old.ID = "attempt-to-change-id"
		return old, nil
	}))(t)
	eq(t, "updated id", up.ID, sc.ID)
	eq(t, "updated name", up.Name, "trade:view")
	eqTime(t, "created kept", up.CreatedAt, sc.CreatedAt)
	if up.UpdatedAt.Before(sc.UpdatedAt) {
		t.Fatalf("UpdatedAt went back: %v < %v", up.UpdatedAt, sc.UpdatedAt)
	}
	eq(t, "persisted", must(s.GetScopeByName(ctx, "trade:view"))(t).Description, "Read all trades")
	_, err = s.GetScopeByName(ctx, "trade:read")
	wantErr(t, "old name gone", err, store.ErrNotFound)

	_, err = s.UpdateScope(ctx, sc.ID, func(old store.Scope) (store.Scope, error) {
		old.Name = "x"
		return old, nil
	})
	wantErr(t, "rename onto existing", err, store.ErrConflict)
	_, err = s.UpdateScope(ctx, "no-such-id", func(old store.Scope) (store.Scope, error) { return old, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)

	boom := errors.New("boom")
	_, err = s.UpdateScope(ctx, sc.ID, func(old store.Scope) (store.Scope, error) {
		old.Description = "must not persist"
		return old, boom
	})
	wantErr(t, "fn error returned", err, boom)
	eq(t, "fn error rolls back", must(s.GetScope(ctx, sc.ID))(t).Description, "Read all trades")
}

func testScopeList(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	for i, sc := range []store.Scope{
		{Name: "trade:read", Resource: "trading"},
		{Name: "trade:write", Resource: "trading", Description: "Place orders"},
		{Name: "account:read", Description: "Read ACCOUNT 100% data"},
		{Name: "admin"},
		{Name: "trader:x"},
	} {
		sc.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		must(s.CreateScope(ctx, sc))(t)
	}
	name := func(sc store.Scope) string { return sc.Name }
	cases := []struct {
		name  string
		f     store.ScopeFilter
		want  []string
		total int
	}{
		{"all in creation order", store.ScopeFilter{}, []string{"trade:read", "trade:write", "account:read", "admin", "trader:x"}, 5},
		{"search name case-insensitive", store.ScopeFilter{Search: "TRADE"}, []string{"trade:read", "trade:write", "trader:x"}, 3},
		{"search description", store.ScopeFilter{Search: "orders"}, []string{"trade:write"}, 1},
		{"search percent is literal", store.ScopeFilter{Search: "100%"}, []string{"account:read"}, 1},
		{"search underscore is literal", store.ScopeFilter{Search: "t_r"}, []string{}, 0},
		{"resource", store.ScopeFilter{Resource: "trading"}, []string{"trade:read", "trade:write"}, 2},
		{"action", store.ScopeFilter{Action: "trade"}, []string{"trade:read", "trade:write"}, 2},
		{"action without colon", store.ScopeFilter{Action: "admin"}, []string{"admin"}, 1},
		{"action prefix only", store.ScopeFilter{Action: "trad"}, []string{}, 0},
		{"page 1", store.ScopeFilter{Page: store.Page{Limit: 2}}, []string{"trade:read", "trade:write"}, 5},
		{"page 2", store.ScopeFilter{Page: store.Page{Offset: 2, Limit: 2}}, []string{"account:read", "admin"}, 5},
		{"past the end", store.ScopeFilter{Page: store.Page{Offset: 10}}, []string{}, 5},
		{"filter and page", store.ScopeFilter{Resource: "trading", Page: store.Page{Offset: 1, Limit: 1}}, []string{"trade:write"}, 2},
	}
	for _, c := range cases {
		got, total, err := s.ListScopes(ctx, c.f)
		noErr(t, err)
		eq(t, c.name+" items", ids(got, name), c.want)
		eq(t, c.name+" total", total, c.total)
	}
}

func testScopeDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a := must(s.CreateScope(ctx, store.Scope{Name: "a"}))(t)
	b := must(s.CreateScope(ctx, store.Scope{Name: "b"}))(t)
	role := must(s.CreateRole(ctx, store.Role{Name: "r", ScopeIDs: []string{a.ID}}))(t)
	client := must(s.CreateClient(ctx, store.Client{ClientID: "c", Type: "confidential", ScopeIDs: []string{a.ID, b.ID}}))(t)

	roles, clients, err := s.ScopeUsage(ctx, a.ID)
	noErr(t, err)
	eq(t, "usage of a", [2]int{roles, clients}, [2]int{1, 1})
	roles, clients, err = s.ScopeUsage(ctx, b.ID)
	noErr(t, err)
	eq(t, "usage of b", [2]int{roles, clients}, [2]int{0, 1})

	wantErr(t, "delete scope held by role and client", s.DeleteScope(ctx, a.ID), store.ErrConflict)
	wantErr(t, "delete scope held by client", s.DeleteScope(ctx, b.ID), store.ErrConflict)
	must(s.GetScope(ctx, a.ID))(t) // still there

	must(s.UpdateRole(ctx, role.ID, func(r store.Role) (store.Role, error) { r.ScopeIDs = nil; return r, nil }))(t)
	wantErr(t, "still held by client", s.DeleteScope(ctx, a.ID), store.ErrConflict)
	must(s.UpdateClient(ctx, client.ClientID, func(c store.Client) (store.Client, error) {
		c.ScopeIDs = []string{b.ID}
		return c, nil
	}))(t)
	noErr(t, s.DeleteScope(ctx, a.ID))
	_, err = s.GetScope(ctx, a.ID)
	wantErr(t, "deleted scope", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteScope(ctx, a.ID), store.ErrNotFound)

	// Deleting the client releases b.
	noErr(t, s.DeleteClient(ctx, client.ClientID))
	roles, clients, err = s.ScopeUsage(ctx, b.ID)
	noErr(t, err)
	eq(t, "usage after client delete", [2]int{roles, clients}, [2]int{0, 0})
	noErr(t, s.DeleteScope(ctx, b.ID))
}
