package account_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const pw = "Sunny!Meadow-42"

func newService(t *testing.T, now *time.Time) *account.Service {
	t.Helper()
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(t.TempDir(), "a.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db := root.ForTenant(store.DefaultTenant)
	s, err := account.New(account.Config{Store: db, Now: func() time.Time { return *now },
		HashParams: account.HashParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Register(ctx, account.NewUser{Username: "Ann", Email: "ann@example.com", Password: pw}, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	return s
}

func code(err error) string {
	if e, ok := web.AsError(err); ok {
		return e.Code
	}
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestLockoutLifecycle: five failures lock; wrong passwords during the
// lock do not extend it; the correct one gets 423 only; after the lock the
// count restarts, and a success resets it.
func TestLockoutLifecycle(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	steps := []struct {
		password string
		advance  time.Duration
		want     string
	}{
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{pw, 0, "ok"}, // the 5th would lock; a success resets instead
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant},
		{"bad", 0, wire.ErrInvalidGrant}, // locks until 12:15
		{pw, 10 * time.Minute, wire.ErrAccountLocked},
		{"bad", 0, wire.ErrInvalidGrant}, // does not extend
		{pw, 6 * time.Minute, "ok"},      // 12:16: the lock has ended
		{"bad", 0, wire.ErrInvalidGrant},
		{pw, 0, "ok"},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		_, err := s.Authenticate(ctx, "ANN@example.com", st.password, "192.0.2.1", "test")
		if got := code(err); got != st.want {
			t.Fatalf("step %d (%s at %s): %s, want %s", i, st.password, now.Format("15:04"), got, st.want)
		}
		if st.want == wire.ErrAccountLocked {
			e, _ := web.AsError(err)
			if e.Status != http.StatusLocked || e.Extra["locked_until"] != "2026-01-01T12:15:00Z" {
				t.Fatalf("locked error: %+v", e)
			}
		}
	}
}

func TestUnknownUserAndDisabled(t *testing.T) {
	now := time.Now()
	s := newService(t, &now)
	ctx := context.Background()
	if _, err := s.Authenticate(ctx, "nobody", pw, "", ""); code(err) != wire.ErrInvalidGrant {
		t.Fatalf("unknown user: %v", err)
	}
	u, err := s.Authenticate(ctx, "ann", pw, "", "")
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := s.Update(ctx, u.ID, account.Update{Active: &off}, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "ann", "bad", "", ""); code(err) != wire.ErrInvalidGrant {
		t.Fatalf("disabled, wrong password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "ann", pw, "", ""); code(err) != wire.ErrAccountDisabled {
		t.Fatalf("disabled, right password: %v", err)
	}
	ok, err := s.SubjectActive(ctx, &wire.Claims{Subject: u.ID})
	if ok || err != nil {
		t.Fatalf("disabled subject active: %v %v", ok, err)
	}
}
