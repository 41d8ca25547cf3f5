package storetest

import (
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testRoles(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	read := must(s.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	write := must(s.CreateScope(ctx, store.Scope{Name: "trade:write"}))(t)
	admin := must(s.CreateScope(ctx, store.Scope{Name: "admin:users"}))(t)

	r := must(s.CreateRole(ctx, store.Role{Name: "trader", Description: "Trades", ScopeIDs: []string{write.ID, read.ID, read.ID}}))(t)
	if !uuidRE.MatchString(r.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", r.ID)
	}
	// Scopes come back ordered by name, ScopeIDs aligned with them.
	eq(t, "role scope ids", r.ScopeIDs, []string{read.ID, write.ID})
	eq(t, "role scopes", r.Scopes, []store.Scope{read, write})
	eq(t, "GetRole", must(s.GetRole(ctx, r.ID))(t), r)
	eq(t, "GetRoleByName", must(s.GetRoleByName(ctx, "trader"))(t), r)

	empty := must(s.CreateRole(ctx, store.Role{Name: "empty"}))(t)
	eq(t, "no scopes", len(empty.Scopes)+len(empty.ScopeIDs), 0)

	_, err := s.CreateRole(ctx, store.Role{Name: "trader"})
	wantErr(t, "duplicate role", err, store.ErrConflict)
	_, err = s.CreateRole(ctx, store.Role{Name: "ghost", ScopeIDs: []string{"no-such-scope"}})
	wantErr(t, "unknown scope", err, store.ErrNotFound)
	_, err = s.GetRoleByName(ctx, "ghost")
	wantErr(t, "failed create left nothing", err, store.ErrNotFound)
	_, err = s.GetRole(ctx, "no-such-id")
	wantErr(t, "GetRole unknown", err, store.ErrNotFound)
	_, err = s.GetRoleByName(ctx, "nobody")
	wantErr(t, "GetRoleByName unknown", err, store.ErrNotFound)

	up := must(s.UpdateRole(ctx, r.ID, func(old store.Role) (store.Role, error) {
		eq(t, "fn sees scope ids", old.ScopeIDs, []string{read.ID, write.ID})
		old.Description = "Trades and admin"
		old.ScopeIDs = []string{admin.ID, read.ID}
		return old, nil
	}))(t)
	eq(t, "replaced scopes", up.ScopeIDs, []string{admin.ID, read.ID})
	eq(t, "replaced scope names", ids(up.Scopes, func(s store.Scope) string { return s.Name }), []string{"admin:users", "trade:read"})
	eq(t, "persisted", must(s.GetRole(ctx, r.ID))(t), up)
	eqTime(t, "created kept", up.CreatedAt, r.CreatedAt)

	_, err = s.UpdateRole(ctx, r.ID, func(old store.Role) (store.Role, error) { old.Name = "empty"; return old, nil })
	wantErr(t, "rename onto existing", err, store.ErrConflict)
	_, err = s.UpdateRole(ctx, r.ID, func(old store.Role) (store.Role, error) {
		old.ScopeIDs = []string{"no-such-scope"}
		return old, nil
	})
	wantErr(t, "update with unknown scope", err, store.ErrNotFound)
	eq(t, "failed update rolled back", must(s.GetRole(ctx, r.ID))(t).ScopeIDs, []string{admin.ID, read.ID})
	_, err = s.UpdateRole(ctx, "no-such-id", func(old store.Role) (store.Role, error) { return old, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
}

func testRoleListAndDelete(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	read := must(s.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	var roles []store.Role
	for i, r := range []store.Role{
		{Name: "viewer", Description: "Looks", ScopeIDs: []string{read.ID}},
		{Name: "trader", Description: "Trades", ScopeIDs: []string{read.ID}},
		{Name: "auditor", Description: "Reads the TRADE log"},
	} {
		r.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		roles = append(roles, must(s.CreateRole(ctx, r))(t))
	}
	name := func(r store.Role) string { return r.Name }
	cases := []struct {
		name  string
		f     store.RoleFilter
		want  []string
		total int
	}{
		{"all", store.RoleFilter{}, []string{"viewer", "trader", "auditor"}, 3},
		{"search name or description", store.RoleFilter{Search: "trade"}, []string{"trader", "auditor"}, 2},
		{"by scope", store.RoleFilter{ScopeID: read.ID}, []string{"viewer", "trader"}, 2},
		{"page", store.RoleFilter{Page: store.Page{Offset: 1, Limit: 1}}, []string{"trader"}, 3},
	}
	for _, c := range cases {
		got, total, err := s.ListRoles(ctx, c.f)
		noErr(t, err)
		eq(t, c.name, ids(got, name), c.want)
		eq(t, c.name+" total", total, c.total)
	}
	list, _, err := s.ListRoles(ctx, store.RoleFilter{ScopeID: read.ID})
	noErr(t, err)
	eq(t, "list fills scopes", list[0].Scopes, []store.Scope{read})
	eq(t, "list fills scope ids", list[1].ScopeIDs, []string{read.ID})

	u := must(s.CreateUser(ctx, store.User{Username: "ann", Email: "ann@example.com", RoleIDs: []string{roles[1].ID}}))(t)
	counts := must(s.RoleUserCounts(ctx))(t)
	eq(t, "role user counts", counts, map[string]int{roles[0].ID: 0, roles[1].ID: 1, roles[2].ID: 0})

	wantErr(t, "delete held role", s.DeleteRole(ctx, roles[1].ID), store.ErrConflict)
	must(s.GetRole(ctx, roles[1].ID))(t)
	must(s.UpdateUser(ctx, u.ID, func(u store.User) (store.User, error) { u.RoleIDs = nil; return u, nil }))(t)
	noErr(t, s.DeleteRole(ctx, roles[1].ID))
	_, err = s.GetRole(ctx, roles[1].ID)
	wantErr(t, "deleted role", err, store.ErrNotFound)
	wantErr(t, "delete twice", s.DeleteRole(ctx, roles[1].ID), store.ErrNotFound)

	// The role's grants went with it.
	r, c, err := s.ScopeUsage(ctx, read.ID)
	noErr(t, err)
	eq(t, "scope usage after role delete", [2]int{r, c}, [2]int{1, 0})
}
