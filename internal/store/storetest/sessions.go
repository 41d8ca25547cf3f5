package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	other := must(s.CreateUser(ctx, store.User{Username: "o", Email: "o@x"}))(t)
	in := store.Session{UserID: u.ID, ClientID: "web", IP: "203.0.113.7", UserAgent: "curl/8", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	live := must(s.CreateSession(ctx, in))(t)
	if !uuidRE.MatchString(live.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", live.ID)
	}
	want := in
	want.ID, want.LastActivity = live.ID, t0 // LastActivity defaults to CreatedAt
	eq(t, "created session", live, want)
	eq(t, "GetSession", must(s.GetSession(ctx, live.ID))(t), want)
	_, err := s.GetSession(ctx, "no-such-id")
	wantErr(t, "GetSession unknown", err, store.ErrNotFound)
	_, err = s.CreateSession(ctx, store.Session{UserID: "no-such-user", ExpiresAt: t0})
	wantErr(t, "session of unknown user", err, store.ErrNotFound)

	live2 := must(s.CreateSession(ctx, store.Session{UserID: u.ID, CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(2 * time.Hour)}))(t)
	expired := must(s.CreateSession(ctx, store.Session{UserID: u.ID, CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}))(t)
	revoked := must(s.CreateSession(ctx, store.Session{UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), RevokedAt: ptr(t0)}))(t)
	must(s.CreateSession(ctx, store.Session{UserID: other.ID, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))(t)

	sessID := func(s store.Session) string { return s.ID }
	eq(t, "live sessions", ids(must(s.ListSessions(ctx, u.ID, t0))(t), sessID), []string{live.ID, live2.ID})
	eq(t, "expiry is exclusive", ids(must(s.ListSessions(ctx, u.ID, t0.Add(time.Hour)))(t), sessID), []string{live2.ID})
	eq(t, "no sessions", len(must(s.ListSessions(ctx, "nobody", t0))(t)), 0)

	up := must(s.UpdateSession(ctx, live.ID, func(old store.Session) (store.Session, error) {
		old.LastActivity = t0.Add(10 * time.Minute)
		old.ExpiresAt = t0.Add(3 * time.Hour)
		old.UserID = other.ID // ignored: a session never changes hands
		return old, nil
	}))(t)
	eq(t, "user kept", up.UserID, u.ID)
	eq(t, "update persisted", must(s.GetSession(ctx, live.ID))(t), up)
	eqTime(t, "last activity", up.LastActivity, t0.Add(10*time.Minute))
	_, err = s.UpdateSession(ctx, "no-such-id", func(old store.Session) (store.Session, error) { return old, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)

	st := must(s.SessionStats(ctx, t0, t0))(t)
	eq(t, "session stats", st, store.SessionStats{Active: 3, CreatedSince: 4, Expired: 1, Total: 5})

	eq(t, "revoke user sessions", must(s.RevokeUserSessions(ctx, u.ID, t0))(t), 2)
	eq(t, "revoke again", must(s.RevokeUserSessions(ctx, u.ID, t0))(t), 0)
	eq(t, "none live", len(must(s.ListSessions(ctx, u.ID, t0))(t)), 0)
	eqTimeP(t, "revoked at", must(s.GetSession(ctx, live2.ID))(t).RevokedAt, &t0)
	eqTimeP(t, "earlier revocation kept", must(s.GetSession(ctx, revoked.ID))(t).RevokedAt, &t0)
	eq(t, "other user untouched", len(must(s.ListSessions(ctx, other.ID, t0))(t)), 1)

	eq(t, "delete expired", must(s.DeleteExpiredSessions(ctx, t0))(t), 1)
	_, err = s.GetSession(ctx, expired.ID)
	wantErr(t, "expired deleted", err, store.ErrNotFound)
	must(s.GetSession(ctx, live.ID))(t)
}

func testRefreshTokens(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	sess := must(s.CreateSession(ctx, store.Session{UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))(t)
	in := store.RefreshToken{ID: "rt-1", Hash: []byte{0, 1, 2, 255}, FamilyID: "fam", SessionID: sess.ID, UserID: u.ID,
		ClientID: "app", Scope: "trade:read offline", Audience: []string{"trading", "billing"},
		Cnf:       store.Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", X5TS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	noErr(t, s.CreateRefreshToken(ctx, in))
	eq(t, "GetRefreshToken", must(s.GetRefreshToken(ctx, in.Hash))(t), in)
	wantErr(t, "duplicate hash", s.CreateRefreshToken(ctx, store.RefreshToken{Hash: in.Hash, FamilyID: "x", ExpiresAt: t0}), store.ErrConflict)
	_, err := s.GetRefreshToken(ctx, []byte("nope"))
	wantErr(t, "unknown", err, store.ErrNotFound)

	// A client-only token: no user, no session.
	noErr(t, s.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte("svc"), FamilyID: "svc", ClientID: "svc", ExpiresAt: t0.Add(time.Hour)}))
	svc := must(s.GetRefreshToken(ctx, []byte("svc")))(t)
	eq(t, "empty user/session", svc.UserID+svc.SessionID, "")
	if !uuidRE.MatchString(svc.ID) {
		t.Fatalf("generated id %q is not a UUIDv4", svc.ID)
	}
	eq(t, "empty audience", len(svc.Audience), 0)

	used := must(s.UseRefreshToken(ctx, in.Hash, t0.Add(time.Minute)))(t)
	want := in
	want.UsedAt = ptr(t0.Add(time.Minute))
	eq(t, "used token", used, want)
	again, err := s.UseRefreshToken(ctx, in.Hash, t0.Add(2*time.Minute))
	wantErr(t, "reuse", err, store.ErrAlreadyUsed)
	eq(t, "reuse returns the token", again.FamilyID, "fam")
	eqTimeP(t, "first use kept", again.UsedAt, ptr(t0.Add(time.Minute)))
	_, err = s.UseRefreshToken(ctx, []byte("nope"), t0)
	wantErr(t, "use unknown", err, store.ErrNotFound)

	noErr(t, s.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte("old"), FamilyID: "old", UserID: u.ID, CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}))
	eq(t, "delete expired", must(s.DeleteExpiredRefreshTokens(ctx, t0))(t), 1)
	_, err = s.GetRefreshToken(ctx, []byte("old"))
	wantErr(t, "expired deleted", err, store.ErrNotFound)
	must(s.GetRefreshToken(ctx, in.Hash))(t)

	// Deleting the session takes its tokens with it.
	eq(t, "delete sessions", must(s.DeleteExpiredSessions(ctx, t0.Add(2*time.Hour)))(t), 1)
	_, err = s.GetRefreshToken(ctx, in.Hash)
	wantErr(t, "session tokens cascaded", err, store.ErrNotFound)
}

func testRefreshRevocation(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	u2 := must(s.CreateUser(ctx, store.User{Username: "v", Email: "v@x"}))(t)
	s1 := must(s.CreateSession(ctx, store.Session{UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))(t)
	s2 := must(s.CreateSession(ctx, store.Session{UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))(t)
	s3 := must(s.CreateSession(ctx, store.Session{UserID: u2.ID, ExpiresAt: t0.Add(time.Hour)}))(t)
	mk := func(hash, fam, sess, user string) {
		noErr(t, s.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte(hash), FamilyID: fam, SessionID: sess, UserID: user, ExpiresAt: t0.Add(time.Hour)}))
	}
	mk("a1", "A", s1.ID, u.ID)
	mk("a2", "A", s1.ID, u.ID)
	mk("a3", "A", s1.ID, u.ID)
	mk("b1", "B", s2.ID, u.ID)
	mk("c1", "C", s3.ID, u2.ID)
	mk("c2", "C", s3.ID, u2.ID)

	eq(t, "revoke family A", must(s.RevokeRefreshFamily(ctx, "A", t0))(t), 3)
	eq(t, "revoke family A again", must(s.RevokeRefreshFamily(ctx, "A", t0.Add(time.Minute)))(t), 0)
	eqTimeP(t, "first revocation kept", must(s.GetRefreshToken(ctx, []byte("a2")))(t).RevokedAt, &t0)
	eqTimeP(t, "family B untouched", must(s.GetRefreshToken(ctx, []byte("b1")))(t).RevokedAt, nil)
	eq(t, "revoke unknown family", must(s.RevokeRefreshFamily(ctx, "Z", t0))(t), 0)

	eq(t, "revoke session s2", must(s.RevokeSessionRefreshTokens(ctx, s2.ID, t0))(t), 1)
	eqTimeP(t, "b1 revoked", must(s.GetRefreshToken(ctx, []byte("b1")))(t).RevokedAt, &t0)
	eq(t, "revoke user u (all revoked already)", must(s.RevokeUserRefreshTokens(ctx, u.ID, t0))(t), 0)
	eq(t, "revoke user u2", must(s.RevokeUserRefreshTokens(ctx, u2.ID, t0))(t), 2)
}

func testAuthCodes(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	in := store.AuthCode{Hash: []byte("code"), ClientID: "app", UserID: u.ID, SessionID: "sess", RedirectURI: "https://app/cb",
		CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256", Scope: "openid trade:read",
		Audience: []string{"trading"}, Nonce: "n-0S6_WzA2Mj", DPoPJKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	noErr(t, s.CreateAuthCode(ctx, in))
	wantErr(t, "duplicate code", s.CreateAuthCode(ctx, in), store.ErrConflict)
	noErr(t, s.CreateAuthCode(ctx, store.AuthCode{Hash: []byte("stale"), ClientID: "app", UserID: u.ID, CreatedAt: t0, ExpiresAt: t0}))

	got := must(s.ConsumeAuthCode(ctx, []byte("code"), t0.Add(time.Second)))(t)
	want := in
	want.UsedAt = ptr(t0.Add(time.Second))
	eq(t, "consumed code", got, want)
	again, err := s.ConsumeAuthCode(ctx, []byte("code"), t0.Add(2*time.Second))
	wantErr(t, "second use", err, store.ErrAlreadyUsed)
	eq(t, "reuse returns the code", again.ClientID, "app")
	_, err = s.ConsumeAuthCode(ctx, []byte("stale"), t0)
	wantErr(t, "expired", err, store.ErrNotFound)
	_, err = s.ConsumeAuthCode(ctx, []byte("nope"), t0)
	wantErr(t, "unknown", err, store.ErrNotFound)
}

// testSingleUseRaces checks that exactly one of many concurrent consumers
// wins, the property that makes refresh-token rotation and code exchange
// safe across replicas.
func testSingleUseRaces(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	noErr(t, s.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte("rt"), FamilyID: "f", UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))
	noErr(t, s.CreateAuthCode(ctx, store.AuthCode{Hash: []byte("code"), ClientID: "app", UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}))
	noErr(t, s.CreateUserToken(ctx, store.UserToken{Hash: []byte("ut"), UserID: u.ID, Purpose: store.PurposePasswordReset, ExpiresAt: t0.Add(time.Hour)}))

	race := func(name string, use func() error) {
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs <- use()
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		wins, used := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrAlreadyUsed):
				used++
			default:
				t.Errorf("%s: unexpected error: %v", name, err)
			}
		}
		if wins != 1 || used != n-1 {
			t.Fatalf("%s: %d winners and %d ErrAlreadyUsed, want 1 and %d", name, wins, used, n-1)
		}
	}
	race("UseRefreshToken", func() error { _, err := s.UseRefreshToken(ctx, []byte("rt"), t0); return err })
	race("ConsumeAuthCode", func() error { _, err := s.ConsumeAuthCode(ctx, []byte("code"), t0); return err })
	race("ConsumeUserToken", func() error {
		_, err := s.ConsumeUserToken(ctx, []byte("ut"), store.PurposePasswordReset, t0)
		return err
	})

	// Concurrent read-modify-write Updates must not lose increments.
	const n = 10
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateUser(ctx, u.ID, func(u store.User) (store.User, error) {
				u.FailedLoginAttempts++
				return u, nil
			})
			if err != nil {
				t.Errorf("concurrent update: %v", err)
			}
		}()
	}
	wg.Wait()
	eq(t, fmt.Sprintf("%d concurrent increments", n), must(s.GetUser(ctx, u.ID))(t).FailedLoginAttempts, n)
}
