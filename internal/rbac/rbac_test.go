package rbac_test

import (
	"context"
	"slices"
	"testing"

	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

func TestSeedIsIdempotentAndKeepsAdminChanges(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t)
	if err := rbac.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	admin, err := db.GetRoleByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range admin.Scopes {
		names = append(names, s.Name)
	}
	for _, want := range append(rbac.AdminScopes, "read:profile") {
		if !slices.Contains(names, want) {
			t.Errorf("admin role lacks %s", want)
		}
	}
	for _, want := range rbac.TradingScopes {
		if _, err := db.GetScopeByName(ctx, want); err != nil {
			t.Errorf("trading scope %s not seeded: %v", want, err)
		}
	}
	// An administrator narrows the trader role; seeding again keeps that.
	trader, _ := db.GetRoleByName(ctx, "trader")
	if _, err := db.UpdateRole(ctx, trader.ID, func(r store.Role) (store.Role, error) { r.ScopeIDs = r.ScopeIDs[:1]; return r, nil }); err != nil {
		t.Fatal(err)
	}
	_, before, _ := db.ListScopes(ctx, store.ScopeFilter{})
	if err := rbac.Seed(ctx, db); err != nil {
		t.Fatal(err)
	}
	_, after, _ := db.ListScopes(ctx, store.ScopeFilter{})
	trader, _ = db.GetRoleByName(ctx, "trader")
	if before != after || len(trader.ScopeIDs) != 1 {
		t.Fatalf("seeding again changed data: scopes %d→%d, trader scopes %d", before, after, len(trader.ScopeIDs))
	}
}

func TestUserScopesIsTheUnionOfRoles(t *testing.T) {
	u := &store.User{Roles: []store.Role{
		{Scopes: []store.Scope{{Name: "b"}, {Name: "a"}}},
		{Scopes: []store.Scope{{Name: "a"}, {Name: "c"}}},
	}}
	if got := rbac.UserScopes(u); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("%v", got)
	}
}

func TestActionAndResource(t *testing.T) {
	for name, want := range map[string][2]string{"read:profile": {"read", "profile"}, "admin:system": {"admin", "system"}, "plain": {"plain", ""}} {
		if rbac.Action(name) != want[0] || rbac.Resource(name) != want[1] {
			t.Errorf("%s: %s %s", name, rbac.Action(name), rbac.Resource(name))
		}
	}
}
