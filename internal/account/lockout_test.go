package account_test

import (
	"context"
	"fmt"
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

// TestLockoutLifecycle: five failures lock; during the lock every attempt
// gets 423 without its password being checked (so the answer tells nothing
// of it) and does not extend the lock; after the lock the count restarts,
// and a success resets it.
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
		{"bad", 0, wire.ErrAccountLocked}, // unchecked, and does not extend
		{pw, 6 * time.Minute, "ok"},       // 12:16: the lock has ended
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

// TestLockoutPerSource: five failures from one source lock that source
// only (an IPv6 source is its /64); a success elsewhere leaves the lock of
// the attacker's source running.
func TestLockoutPerSource(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	try := func(password, ip string) string {
		_, err := s.Authenticate(ctx, "ann", password, ip, "test")
		return code(err)
	}
	steps := []struct {
		password, ip, want string
	}{
		{"bad", "192.0.2.1", wire.ErrInvalidGrant},
		{"bad", "192.0.2.1", wire.ErrInvalidGrant},
		{"bad", "192.0.2.1", wire.ErrInvalidGrant},
		{"bad", "192.0.2.1", wire.ErrInvalidGrant},
		{"bad", "::ffff:192.0.2.1", wire.ErrInvalidGrant}, // the same address: locks it
		{pw, "192.0.2.1", wire.ErrAccountLocked},
		{pw, "198.51.100.7", "ok"},               // another address is not locked out
		{pw, "192.0.2.1", wire.ErrAccountLocked}, // and its success unlocks nothing
		{"bad", "2001:db8:1:2::1", wire.ErrInvalidGrant},
		{"bad", "2001:db8:1:2::2", wire.ErrInvalidGrant},
		{"bad", "2001:db8:1:2:ffff::3", wire.ErrInvalidGrant},
		{"bad", "2001:db8:1:2::4", wire.ErrInvalidGrant},
		{"bad", "2001:db8:1:2::5", wire.ErrInvalidGrant}, // five in one /64
		{pw, "2001:db8:1:2::99", wire.ErrAccountLocked},
		{pw, "2001:db8:1:3::1", "ok"}, // the next /64 is another source
	}
	for i, st := range steps {
		if got := try(st.password, st.ip); got != st.want {
			t.Fatalf("step %d (%s from %s): %s, want %s", i, st.password, st.ip, got, st.want)
		}
	}
	now = now.Add(15*time.Minute + time.Second)
	for _, ip := range []string{"192.0.2.1", "2001:db8:1:2::1"} {
		if got := try(pw, ip); got != "ok" {
			t.Fatalf("after the lock, from %s: %s", ip, got)
		}
	}
}

// TestLockoutAcrossSources: failures from many sources together lock the
// user from every source (password spraying from many addresses stops),
// while one address, however long it tries, never does.
func TestLockoutAcrossSources(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	try := func(password, ip string) string {
		_, err := s.Authenticate(ctx, "ann", password, ip, "test")
		return code(err)
	}

	// One address, for hours: it locks itself, never the user.
	for cycle := range 8 {
		for range 6 {
			try("bad", "203.0.113.9")
		}
		if got := try(pw, "198.51.100.7"); got != "ok" {
			t.Fatalf("cycle %d: the user is locked out of other addresses: %s", cycle, got)
		}
		now = now.Add(16 * time.Minute)
	}

	// Twenty addresses, one guess each, within the lockout duration.
	for i := range 20 {
		if got := try("bad", fmt.Sprintf("10.0.%d.1", i)); got != wire.ErrInvalidGrant {
			t.Fatalf("guess %d: %s", i, got)
		}
		now = now.Add(10 * time.Second)
	}
	if got := try(pw, "198.51.100.7"); got != wire.ErrAccountLocked {
		t.Fatalf("after a spray from 20 addresses: %s, want locked everywhere", got)
	}
	// Guesses during the lock are not counted and do not extend it.
	try("bad", "10.0.99.1")
	now = now.Add(15 * time.Minute)
	if got := try(pw, "198.51.100.7"); got != "ok" {
		t.Fatalf("after the lock across sources: %s", got)
	}
}

// TestLockoutKeepsSessions: a lock refuses new logins only; the user's
// tokens of an earlier session stay active.
func TestLockoutKeepsSessions(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	u, err := s.Authenticate(ctx, "ann", pw, "198.51.100.7", "test")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.StartSession(ctx, u, "", "198.51.100.7", "test")
	if err != nil {
		t.Fatal(err)
	}
	for range 25 {
		s.Authenticate(ctx, "ann", "bad", fmt.Sprintf("10.1.%d.1", now.Second()), "test")
		now = now.Add(time.Second)
	}
	if _, err := s.Authenticate(ctx, "ann", pw, "198.51.100.7", "test"); code(err) != wire.ErrAccountLocked {
		t.Fatalf("not locked: %v", err)
	}
	ok, err := s.SubjectActive(ctx, &wire.Claims{Subject: u.ID, SessionID: sess.ID})
	if !ok || err != nil {
		t.Fatalf("the session's token after a lockout: %v %v", ok, err)
	}
}

// TestUnlockClearsEverySource: an administrator's unlock lifts every lock.
func TestUnlockClearsEverySource(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	s := newService(t, &now)
	ctx := context.Background()
	var id string
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		for range 5 {
			s.Authenticate(ctx, "ann", "bad", ip, "test")
		}
		_, err := s.Authenticate(ctx, "ann", pw, ip, "test")
		if code(err) != wire.ErrAccountLocked {
			t.Fatalf("%s not locked: %v", ip, err)
		}
	}
	u, err := s.Authenticate(ctx, "ann", pw, "198.51.100.7", "test")
	if err != nil {
		t.Fatal(err)
	}
	id = u.ID
	if u.LockedUntil == nil || u.FailedLoginAttempts != 0 {
		t.Fatalf("the user shows no running lock: %+v", u)
	}
	if _, err := s.Unlock(ctx, id, account.Meta{}); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"192.0.2.1", "192.0.2.2"} {
		if _, err := s.Authenticate(ctx, "ann", pw, ip, "test"); err != nil {
			t.Fatalf("%s after unlock: %v", ip, err)
		}
	}
}

func TestSourceKey(t *testing.T) {
	for ip, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::1%eth0": "2001:db8:1:2::/64",
		"":                     "unknown",
		"not-an-address":       "unknown",
		"fe80::1":              "fe80::/64",
	} {
		if got := account.SourceKey(ip); got != want {
			t.Errorf("SourceKey(%q) = %q, want %q", ip, got, want)
		}
	}
}
