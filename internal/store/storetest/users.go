package storetest

import (
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	sc := must(s.CreateScope(ctx, store.Scope{Name: "trade:read"}))(t)
	trader := must(s.CreateRole(ctx, store.Role{Name: "trader", ScopeIDs: []string{sc.ID}}))(t)
	viewer := must(s.CreateRole(ctx, store.Role{Name: "viewer"}))(t)

	in := store.User{
		Username: "Alice", Email: "Alice@Example.com", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		FirstName: "Alice", LastName: "Liddell", DisplayName: "Al", Bio: "Down the hole",
		Active: true, Verified: true, Superuser: true, FailedLoginAttempts: 2,
		LockedUntil: ptr(t0.Add(time.Hour)), LastLogin: ptr(t0.Add(-time.Hour)),
		PasswordChangedAt: t0.Add(-24 * time.Hour), CreatedAt: t0,
		RoleIDs: []string{viewer.ID, trader.ID},
	}
	u := must(s.CreateUser(ctx, in))(t)
	if !uuidRE.MatchString(u.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", u.ID)
	}
	want := in
	want.ID, want.UpdatedAt = u.ID, u.UpdatedAt
	want.RoleIDs, want.Roles = []string{trader.ID, viewer.ID}, []store.Role{trader, viewer} // by role name
	eq(t, "created user", u, want)
	eq(t, "GetUser", must(s.GetUser(ctx, u.ID))(t), want)
	eq(t, "role scopes filled", u.Roles[0].Scopes, []store.Scope{sc})

	for _, login := range []string{"alice", "ALICE", "alice@example.com", "ALICE@EXAMPLE.COM"} {
		eq(t, "GetUserByLogin "+login, must(s.GetUserByLogin(ctx, login))(t).ID, u.ID)
	}
	_, err := s.GetUserByLogin(ctx, "bob")
	wantErr(t, "login unknown", err, store.ErrNotFound)
	_, err = s.GetUser(ctx, "no-such-id")
	wantErr(t, "GetUser unknown", err, store.ErrNotFound)

	_, err = s.CreateUser(ctx, store.User{Username: "ALICE", Email: "other@example.com"})
	wantErr(t, "duplicate username, other case", err, store.ErrConflict)
	_, err = s.CreateUser(ctx, store.User{Username: "alice2", Email: "alice@EXAMPLE.com"})
	wantErr(t, "duplicate email, other case", err, store.ErrConflict)
	_, err = s.CreateUser(ctx, store.User{Username: "ghost", Email: "ghost@example.com", RoleIDs: []string{"no-such-role"}})
	wantErr(t, "unknown role", err, store.ErrNotFound)
	_, err = s.GetUserByLogin(ctx, "ghost")
	wantErr(t, "failed create left nothing", err, store.ErrNotFound)

	bob := must(s.CreateUser(ctx, store.User{Username: "bob", Email: "bob@example.com"}))(t)
	eq(t, "no roles", len(bob.RoleIDs)+len(bob.Roles), 0)
	if bob.PasswordChangedAt.IsZero() {
		t.Fatal("PasswordChangedAt should default to CreatedAt, got zero")
	}

	up := must(s.UpdateUser(ctx, u.ID, func(old store.User) (store.User, error) {
		eq(t, "fn sees roles", old.RoleIDs, []string{trader.ID, viewer.ID})
		old.DisplayName = "Alice L."
		old.LockedUntil = nil
		old.FailedLoginAttempts = 0
		old.LoginSources = []store.LoginSource{{Source: "192.0.2.1", Failures: 3, Last: t0},
			{Source: "2001:db8::/64", Failures: 5, Last: t0, LockedUntil: ptr(t0.Add(15 * time.Minute))}}
		old.RoleIDs = []string{viewer.ID}
		return old, nil
	}))(t)
	eq(t, "login sources", len(up.LoginSources), 2)
	eqTimeP(t, "source lock", up.LoginSources[1].LockedUntil, ptr(t0.Add(15*time.Minute)))
	eq(t, "updated roles", up.RoleIDs, []string{viewer.ID})
	eq(t, "updated display", up.DisplayName, "Alice L.")
	eqTimeP(t, "unlocked", up.LockedUntil, nil)
	eqTime(t, "created kept", up.CreatedAt, t0)
	eq(t, "persisted", must(s.GetUser(ctx, u.ID))(t), up)

	_, err = s.UpdateUser(ctx, bob.ID, func(old store.User) (store.User, error) { old.Username = "Alice"; return old, nil })
	wantErr(t, "rename onto existing username", err, store.ErrConflict)
	_, err = s.UpdateUser(ctx, bob.ID, func(old store.User) (store.User, error) { old.Email = "ALICE@example.com"; return old, nil })
	wantErr(t, "email onto existing", err, store.ErrConflict)
	_, err = s.UpdateUser(ctx, "no-such-id", func(old store.User) (store.User, error) { return old, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)

	// Renaming to a case variant of one's own name is fine.
	must(s.UpdateUser(ctx, bob.ID, func(old store.User) (store.User, error) { old.Username = "Bob"; return old, nil }))(t)
	eq(t, "case change", must(s.GetUserByLogin(ctx, "BOB"))(t).Username, "Bob")

	wantErr(t, "delete unknown", s.DeleteUser(ctx, "no-such-id"), store.ErrNotFound)
}

func testUserList(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	role := must(s.CreateRole(ctx, store.Role{Name: "trader"}))(t)
	for i, u := range []store.User{
		{Username: "ann", Email: "ann@corp.example", DisplayName: "Ann Admin", Active: true, Verified: true, RoleIDs: []string{role.ID}},
		{Username: "ben", Email: "ben@home.example", FirstName: "Benjamin", Active: true},
		{Username: "cat", Email: "cat@corp.example", LastName: "Catt", Active: false, Verified: true, RoleIDs: []string{role.ID}},
	} {
		u.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		must(s.CreateUser(ctx, u))(t)
	}
	cases := []struct {
		name  string
		f     store.UserFilter
		want  []string
		total int
	}{
		{"all", store.UserFilter{}, []string{"ann", "ben", "cat"}, 3},
		{"search email", store.UserFilter{Search: "CORP"}, []string{"ann", "cat"}, 2},
		{"search first name", store.UserFilter{Search: "jam"}, []string{"ben"}, 1},
		{"search last name", store.UserFilter{Search: "catt"}, []string{"cat"}, 1},
		{"search display name", store.UserFilter{Search: "admin"}, []string{"ann"}, 1},
		{"active", store.UserFilter{Active: ptr(true)}, []string{"ann", "ben"}, 2},
		{"inactive", store.UserFilter{Active: ptr(false)}, []string{"cat"}, 1},
		{"verified", store.UserFilter{Verified: ptr(true)}, []string{"ann", "cat"}, 2},
		{"unverified", store.UserFilter{Verified: ptr(false)}, []string{"ben"}, 1},
		{"role", store.UserFilter{RoleID: role.ID}, []string{"ann", "cat"}, 2},
		{"page", store.UserFilter{Page: store.Page{Offset: 2, Limit: 5}}, []string{"cat"}, 3},
	}
	for _, c := range cases {
		got, total, err := s.ListUsers(ctx, c.f)
		noErr(t, err)
		eq(t, c.name, ids(got, userName), c.want)
		eq(t, c.name+" total", total, c.total)
	}
	list, _, err := s.ListUsers(ctx, store.UserFilter{RoleID: role.ID})
	noErr(t, err)
	eq(t, "list fills roles", ids(list[1].Roles, roleID), []string{role.ID})
}

func testUserStatsAndUnlock(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	now := t0
	for _, u := range []store.User{
		{Username: "a", Email: "a@x", Active: true, Verified: true, CreatedAt: now.AddDate(0, 0, -40)},
		{Username: "b", Email: "b@x", Active: true, CreatedAt: now.AddDate(0, 0, -29)},
		{Username: "c", Email: "c@x", LockedUntil: ptr(now.Add(time.Hour)), FailedLoginAttempts: 5, CreatedAt: now.AddDate(0, 0, -1)},
		{Username: "d", Email: "d@x", Active: true, LockedUntil: ptr(now.Add(-time.Minute)), FailedLoginAttempts: 5, CreatedAt: now.AddDate(0, 0, -100)},
	} {
		must(s.CreateUser(ctx, u))(t)
	}
	st := must(s.UserStats(ctx, now))(t)
	eq(t, "user stats", st, store.UserStats{Total: 4, Active: 3, Verified: 1, Locked: 1, RecentRegistrations: 2})

	n := must(s.UnlockExpired(ctx, now))(t)
	eq(t, "unlocked", n, 1)
	d := must(s.GetUserByLogin(ctx, "d"))(t)
	eqTimeP(t, "d lock cleared", d.LockedUntil, nil)
	eq(t, "d attempts reset", d.FailedLoginAttempts, 0)
	c := must(s.GetUserByLogin(ctx, "c"))(t)
	eqTimeP(t, "c still locked", c.LockedUntil, ptr(now.Add(time.Hour)))
	eq(t, "c attempts kept", c.FailedLoginAttempts, 5)
	eq(t, "unlock again", must(s.UnlockExpired(ctx, now))(t), 0)
}

func testUserDeleteCascades(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	role := must(s.CreateRole(ctx, store.Role{Name: "r"}))(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x", RoleIDs: []string{role.ID}}))(t)
	keepU := must(s.CreateUser(ctx, store.User{Username: "k", Email: "k@x"}))(t)
	sess := must(s.CreateSession(ctx, store.Session{UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))(t)
	noErr(t, s.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte("rt"), FamilyID: "f", SessionID: sess.ID, UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))
	noErr(t, s.CreateUserToken(ctx, store.UserToken{Hash: []byte("ut"), UserID: u.ID, Purpose: store.PurposePasswordReset, ExpiresAt: t0.Add(time.Hour)}))
	keepSess := must(s.CreateSession(ctx, store.Session{UserID: keepU.ID, ExpiresAt: t0.Add(time.Hour)}))(t)

	noErr(t, s.DeleteUser(ctx, u.ID))
	_, err := s.GetUser(ctx, u.ID)
	wantErr(t, "deleted user", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, sess.ID)
	wantErr(t, "session cascaded", err, store.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, []byte("rt"))
	wantErr(t, "refresh token cascaded", err, store.ErrNotFound)
	_, err = s.ConsumeUserToken(ctx, []byte("ut"), store.PurposePasswordReset, t0)
	wantErr(t, "user token cascaded", err, store.ErrNotFound)
	eq(t, "role grant cascaded", must(s.RoleUserCounts(ctx))(t)[role.ID], 0)
	noErr(t, s.DeleteRole(ctx, role.ID)) // no longer held
	must(s.GetSession(ctx, keepSess.ID))(t)
}

func testUserTokens(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	mk := func(hash, purpose string, exp time.Time) {
		noErr(t, s.CreateUserToken(ctx, store.UserToken{Hash: []byte(hash), UserID: u.ID, Purpose: purpose, CreatedAt: t0, ExpiresAt: exp}))
	}
	mk("reset", store.PurposePasswordReset, t0.Add(time.Hour))
	mk("verify", store.PurposeEmailVerification, t0.Add(time.Hour))
	mk("old", store.PurposePasswordReset, t0.Add(-time.Minute))
	wantErr(t, "duplicate token", s.CreateUserToken(ctx, store.UserToken{Hash: []byte("reset"), UserID: u.ID, Purpose: store.PurposePasswordReset, ExpiresAt: t0}), store.ErrConflict)
	wantErr(t, "token for unknown user", s.CreateUserToken(ctx, store.UserToken{Hash: []byte("z"), UserID: "no-such-user", Purpose: store.PurposePasswordReset, ExpiresAt: t0}), store.ErrNotFound)

	_, err := s.ConsumeUserToken(ctx, []byte("reset"), store.PurposeEmailVerification, t0)
	wantErr(t, "wrong purpose", err, store.ErrNotFound)
	tok := must(s.ConsumeUserToken(ctx, []byte("reset"), store.PurposePasswordReset, t0))(t)
	eq(t, "token user", tok.UserID, u.ID)
	eq(t, "token hash", string(tok.Hash), "reset")
	eqTime(t, "token created", tok.CreatedAt, t0)
	eqTime(t, "token expires", tok.ExpiresAt, t0.Add(time.Hour))
	eqTimeP(t, "token used at", tok.UsedAt, &t0)
	_, err = s.ConsumeUserToken(ctx, []byte("reset"), store.PurposePasswordReset, t0)
	wantErr(t, "second use", err, store.ErrAlreadyUsed)
	_, err = s.ConsumeUserToken(ctx, []byte("old"), store.PurposePasswordReset, t0)
	wantErr(t, "expired", err, store.ErrNotFound)
	_, err = s.ConsumeUserToken(ctx, []byte("verify"), store.PurposeEmailVerification, t0.Add(time.Hour))
	wantErr(t, "expires at ExpiresAt", err, store.ErrNotFound)
	_, err = s.ConsumeUserToken(ctx, []byte("nope"), store.PurposePasswordReset, t0)
	wantErr(t, "unknown", err, store.ErrNotFound)

	eq(t, "delete expired", must(s.DeleteExpiredUserTokens(ctx, t0))(t), 1)
	eq(t, "delete expired later", must(s.DeleteExpiredUserTokens(ctx, t0.Add(2*time.Hour)))(t), 2)
	must(s.GetUser(ctx, u.ID))(t)
}
