// Package storetest is the conformance suite every store.Store must pass.
// A backend's test calls Run with a constructor that returns a fresh, empty,
// migrated store for each subtest:
//
//	func TestSQLite(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return sqltest.SQLite(t) })
//	}
//
// Subtests run in parallel, so newStore must give each its own database.
// The suite asserts concrete values, sentinel errors (checked with
// errors.Is) and single-use behaviour under concurrency.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Scopes", testScopes},
		{"ScopeList", testScopeList},
		{"ScopeDelete", testScopeDelete},
		{"Roles", testRoles},
		{"RoleListAndDelete", testRoleListAndDelete},
		{"Clients", testClients},
		{"ClientList", testClientList},
		{"ClientUsage", testClientUsage},
		{"ClientSecrets", testClientSecrets},
		{"WebhookSecrets", testWebhookSecrets},
		{"LoadClients", testLoadClients},
		{"ClientStats", testClientStats},
		{"ScopeRoleCounts", testScopeRoleCounts},
		{"Users", testUsers},
		{"UserList", testUserList},
		{"UserStatsAndUnlock", testUserStatsAndUnlock},
		{"UserDeleteCascades", testUserDeleteCascades},
		{"UserTokens", testUserTokens},
		{"Sessions", testSessions},
		{"RefreshTokens", testRefreshTokens},
		{"RefreshRevocation", testRefreshRevocation},
		{"AuthCodes", testAuthCodes},
		{"SingleUseRaces", testSingleUseRaces},
		{"Revocations", testRevocations},
		{"Replay", testReplay},
		{"ClientCredentials", testClientCredentials},
		{"Trusts", testTrusts},
		{"Keys", testKeys},
		{"Audit", testAudit},
		{"Lock", testLock},
		{"PublishSubscribe", testPublishSubscribe},
		{"WritesPublish", testWritesPublish},
		{"TimesUTC", testTimesUTC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// t0 is the suite's reference time: microsecond precision, the most a
// store must keep.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// must returns v, failing the test on err. It is curried so that a call's
// two results can be passed straight in: must(s.GetScope(ctx, id))(t).
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v, want %v", what, err, want)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func eqTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Fatalf("%s location = %v, want UTC", what, got.Location())
	}
}

func eqTimeP(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Fatalf("%s = %v, want %v", what, got, want)
	default:
		eqTime(t, what, *got, *want)
	}
}

func ptr[T any](v T) *T { return &v }

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func roleID(r store.Role) string     { return r.ID }
func clientID(c store.Client) string { return c.ClientID }
func userName(u store.User) string   { return u.Username }
