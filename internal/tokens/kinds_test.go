package tokens_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestRevocationKinds: session and derived-token revocations are held,
// synced to other replicas and published like jtis, each under its kind.
func TestRevocationKinds(t *testing.T) {
	clk := &clock{time.Now()}
	_, _, db := newService(t, keys.ES256, clk)
	ctx := context.Background()
	a := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now})
	b := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now})
	exp := clk.t.Add(time.Hour)
	for _, err := range []error{
		a.Revoke(ctx, "j1", exp),
		a.RevokeSession(ctx, "sess-1", exp),
		a.RevokeDerived(ctx, "root-1", exp),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Revoke(ctx, "sid:sess-2", exp); err == nil {
		t.Fatal("a jti holding the kind separator was accepted")
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    wire.Claims
		want bool
	}{
		{"revoked jti", wire.Claims{ID: "j1"}, true},
		{"other jti", wire.Claims{ID: "j2"}, false},
		{"token of the ended session", wire.Claims{ID: "j2", SessionID: "sess-1"}, true},
		{"token of another session", wire.Claims{ID: "j2", SessionID: "sess-2"}, false},
		{"token derived from the revoked root", wire.Claims{ID: "j3", RootID: "root-1", SessionID: "sess-2"}, true},
		{"token derived from another root", wire.Claims{ID: "j3", RootID: "root-2"}, false},
		{"the root itself is not revoked by its derived entry", wire.Claims{ID: "root-1"}, false},
		{"a session id is not a jti", wire.Claims{ID: "sess-1"}, false},
	}
	for _, l := range []*tokens.RevocationList{a, b} {
		for _, tt := range tests {
			if got := l.Covers(&tt.c); got != tt.want {
				t.Errorf("%s: Covers = %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	for _, l := range []*tokens.RevocationList{a, b} {
		var got []string
		for _, e := range feed(t, l, "").Entries {
			got = append(got, e.Kind+"="+e.Value)
		}
		slices.Sort(got)
		if want := []string{"jti=j1", "root_jti=root-1", "sid=sess-1"}; !slices.Equal(got, want) {
			t.Fatalf("feed entries %v, want %v", got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { b.Covers(&wire.Claims{ID: "j9", SessionID: "sess-9", RootID: "root-9"}) }); n != 0 {
		t.Fatalf("Covers allocates %v times", n)
	}
}
