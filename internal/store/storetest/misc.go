package storetest

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testRevocations(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	noErr(t, s.Revoke(ctx, "a", t0.Add(time.Hour)))
	noErr(t, s.Revoke(ctx, "b", t0.Add(2*time.Hour)))
	noErr(t, s.Revoke(ctx, "gone", t0.Add(-time.Hour)))
	noErr(t, s.Revoke(ctx, "a", t0.Add(time.Hour))) // twice is fine

	for jti, want := range map[string]bool{"a": true, "b": true, "gone": false, "never": false} {
		eq(t, "IsRevoked "+jti, must(s.IsRevoked(ctx, jti, t0))(t), want)
	}
	eq(t, "revoked until expiry only", must(s.IsRevoked(ctx, "a", t0.Add(time.Hour)))(t), false)

	all := must(s.ListRevocations(ctx, 0, t0, 0))(t)
	jti := func(r store.Revocation) string { return r.JTI }
	eq(t, "unexpired in seq order", ids(all, jti), []string{"a", "b"})
	if all[0].Seq <= 0 || all[1].Seq <= all[0].Seq {
		t.Fatalf("seqs %d, %d are not positive and increasing", all[0].Seq, all[1].Seq)
	}
	eqTime(t, "expires", all[1].ExpiresAt, t0.Add(2*time.Hour))
	if all[0].CreatedAt.IsZero() {
		t.Fatal("CreatedAt not set")
	}
	eq(t, "after a", ids(must(s.ListRevocations(ctx, all[0].Seq, t0, 10))(t), jti), []string{"b"})
	eq(t, "limit", ids(must(s.ListRevocations(ctx, 0, t0, 1))(t), jti), []string{"a"})
	eq(t, "after b", len(must(s.ListRevocations(ctx, all[1].Seq, t0, 10))(t)), 0)
	eq(t, "at a later now", ids(must(s.ListRevocations(ctx, 0, t0.Add(90*time.Minute), 10))(t), jti), []string{"b"})

	eq(t, "delete expired", must(s.DeleteExpiredRevocations(ctx, t0))(t), 1)
	noErr(t, s.Revoke(ctx, "c", t0.Add(time.Hour)))
	later := must(s.ListRevocations(ctx, all[1].Seq, t0, 10))(t)
	eq(t, "new entry after b", ids(later, jti), []string{"c"})
	if later[0].Seq <= all[1].Seq {
		t.Fatalf("seq of c %d not after b %d", later[0].Seq, all[1].Seq)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	jwk := json.RawMessage(`{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`)
	k1 := store.SigningKey{KID: "k1", Alg: "ES256", PrivateKey: []byte{1, 2, 3, 0, 255}, PublicJWK: jwk, State: store.KeyActive,
		CreatedAt: t0, ActivatesAt: t0}
	k2 := store.SigningKey{KID: "k2", Alg: "EdDSA", PrivateKey: []byte("enc"), PublicJWK: json.RawMessage(`{"kty":"OKP"}`), State: store.KeyNext,
		CreatedAt: t0.Add(time.Hour), ActivatesAt: t0.Add(2 * time.Hour)}
	noErr(t, s.CreateKey(ctx, k2))
	noErr(t, s.CreateKey(ctx, k1))
	wantErr(t, "duplicate kid", s.CreateKey(ctx, k1), store.ErrConflict)
	eq(t, "keys oldest first", must(s.ListKeys(ctx))(t), []store.SigningKey{k1, k2})

	retire := t0.Add(3 * time.Hour)
	up := must(s.UpdateKey(ctx, "k1", func(k store.SigningKey) (store.SigningKey, error) {
		eq(t, "fn sees state", k.State, store.KeyActive)
		k.State = store.KeyRetired
		k.RetiresAt = &retire
		k.ExpiresAt = ptr(retire.Add(time.Hour))
		k.KID = "renamed" // ignored
		return k, nil
	}))(t)
	want := k1
	want.State, want.RetiresAt, want.ExpiresAt = store.KeyRetired, &retire, ptr(retire.Add(time.Hour))
	eq(t, "updated key", up, want)
	eq(t, "persisted", must(s.ListKeys(ctx))(t)[0], want)
	_, err := s.UpdateKey(ctx, "nope", func(k store.SigningKey) (store.SigningKey, error) { return k, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)

	noErr(t, s.DeleteKey(ctx, "k1"))
	wantErr(t, "delete twice", s.DeleteKey(ctx, "k1"), store.ErrNotFound)
	eq(t, "one left", len(must(s.ListKeys(ctx))(t)), 1)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	noErr(t, s.AppendAuditEvents(ctx, nil))
	events := []store.AuditEvent{
		{Time: t0, Type: "login.success", Outcome: "success", ActorType: "user", ActorID: "u1", Target: "web", IP: "198.51.100.1", UserAgent: "ua", RequestID: "r1",
			Details: map[string]any{"method": "password", "attempt": float64(1), "mfa": false}},
		{Time: t0.Add(time.Second), Type: "login.failure", Outcome: "failure", ActorType: "user", ActorID: "u2"},
		{Time: t0.Add(2 * time.Second), Type: "loginx.other", Outcome: "success", ActorID: "u1"},
		{Time: t0.Add(3 * time.Second), Type: "token.issued", Outcome: "success", ActorType: "client", ActorID: "svc", Target: "trading"},
	}
	noErr(t, s.AppendAuditEvents(ctx, events))
	got, total, err := s.ListAuditEvents(ctx, store.AuditFilter{})
	noErr(t, err)
	eq(t, "total", total, 4)
	typ := func(e store.AuditEvent) string { return e.Type }
	eq(t, "newest first", ids(got, typ), []string{"token.issued", "loginx.other", "login.failure", "login.success"})
	if !uuidRE.MatchString(got[0].ID) {
		t.Fatalf("generated id %q is not a UUIDv4", got[0].ID)
	}
	first := events[0]
	first.ID = got[3].ID
	eq(t, "round trip with details", got[3], first)

	cases := []struct {
		name  string
		f     store.AuditFilter
		want  []string
		total int
	}{
		{"type prefix", store.AuditFilter{Type: "login."}, []string{"login.failure", "login.success"}, 2},
		{"exact type", store.AuditFilter{Type: "login.failure"}, []string{"login.failure"}, 1},
		{"type without dot is exact", store.AuditFilter{Type: "login"}, []string{}, 0},
		{"outcome", store.AuditFilter{Outcome: "success"}, []string{"token.issued", "loginx.other", "login.success"}, 3},
		{"actor", store.AuditFilter{ActorID: "u1"}, []string{"loginx.other", "login.success"}, 2},
		{"target", store.AuditFilter{Target: "trading"}, []string{"token.issued"}, 1},
		{"since inclusive", store.AuditFilter{Since: t0.Add(2 * time.Second)}, []string{"token.issued", "loginx.other"}, 2},
		{"until exclusive", store.AuditFilter{Until: t0.Add(time.Second)}, []string{"login.success"}, 1},
		{"combined", store.AuditFilter{Type: "login.", Outcome: "success"}, []string{"login.success"}, 1},
		{"page", store.AuditFilter{Page: store.Page{Offset: 1, Limit: 2}}, []string{"loginx.other", "login.failure"}, 4},
	}
	for _, c := range cases {
		got, total, err := s.ListAuditEvents(ctx, c.f)
		noErr(t, err)
		eq(t, c.name, ids(got, typ), c.want)
		eq(t, c.name+" total", total, c.total)
	}
	eq(t, "delete before", must(s.DeleteAuditEventsBefore(ctx, t0.Add(2*time.Second)))(t), 2)
	_, total, err = s.ListAuditEvents(ctx, store.AuditFilter{})
	noErr(t, err)
	eq(t, "left", total, 2)
}

func testLock(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	var inside, maxInside, runs atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Lock(ctx, "storetest", func(ctx context.Context) error {
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				runs.Add(1)
				return nil
			})
			if err != nil {
				t.Errorf("Lock: %v", err)
			}
		}()
	}
	wg.Wait()
	eq(t, "runs", runs.Load(), int32(8))
	eq(t, "max holders at once", maxInside.Load(), int32(1))

	// Different names do not exclude each other: b runs while a is held.
	done := make(chan error, 1)
	noErr(t, s.Lock(ctx, "a", func(ctx context.Context) error {
		go func() { done <- s.Lock(ctx, "b", func(context.Context) error { return nil }) }()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Error("lock b blocked while a was held")
			return nil
		}
	}))
	// fn's error comes back.
	wantErr(t, "fn error", s.Lock(ctx, "a", func(context.Context) error { return store.ErrConflict }), store.ErrConflict)
}

// collect subscribes and returns a channel of received changes.
func collect(t *testing.T, s store.Store) <-chan store.Change {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch := make(chan store.Change, 64)
	noErr(t, s.Subscribe(ctx, func(c store.Change) { ch <- c }))
	return ch
}

// await waits up to 1s for a change of want's Kind and ID, skipping
// others, and returns it.
func await(t *testing.T, ch <-chan store.Change, want store.Change) store.Change {
	t.Helper()
	timeout := time.After(time.Second)
	for {
		select {
		case c := <-ch:
			if c.Kind == want.Kind && c.ID == want.ID {
				return c
			}
		case <-timeout:
			t.Fatalf("change %+v not delivered within 1s", want)
		}
	}
}

// ownTenant checks that a change names the store's tenant.
func ownTenant(t *testing.T, s store.Store, c store.Change) {
	t.Helper()
	if c.Tenant != s.TenantID() {
		t.Fatalf("change %+v names tenant %q, want the store's %q", c, c.Tenant, s.TenantID())
	}
}

func testPublishSubscribe(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	a, b := collect(t, s), collect(t, s)
	want := store.Change{Kind: store.ChangeClient, ID: "svc-1", Tenant: "another-tenant"}
	noErr(t, s.Publish(ctx, want))
	ownTenant(t, s, await(t, a, want))
	ownTenant(t, s, await(t, b, want))
	all := store.Change{Kind: store.ChangeRevocation}
	noErr(t, s.Publish(ctx, all))
	await(t, a, all)
}

func testWritesPublish(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	ch := collect(t, s)
	got := func(want store.Change) { t.Helper(); ownTenant(t, s, await(t, ch, want)) }
	c := must(s.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}))(t)
	got(store.Change{Kind: store.ChangeClient, ID: "svc"})
	must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: []byte("h")}))(t)
	got(store.Change{Kind: store.ChangeClient, ID: "svc"})
	sc := must(s.CreateScope(ctx, store.Scope{Name: "x"}))(t)
	got(store.Change{Kind: store.ChangeScope, ID: sc.ID})
	r := must(s.CreateRole(ctx, store.Role{Name: "r"}))(t)
	got(store.Change{Kind: store.ChangeRole, ID: r.ID})
	noErr(t, s.CreateKey(ctx, store.SigningKey{KID: "k", Alg: "ES256", PrivateKey: []byte("p"), State: store.KeyNext}))
	got(store.Change{Kind: store.ChangeKey, ID: "k"})
	noErr(t, s.Revoke(ctx, "jti-1", t0))
	got(store.Change{Kind: store.ChangeRevocation, ID: "jti-1"})
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x"}))(t)
	got(store.Change{Kind: store.ChangeUser, ID: u.ID})
	noErr(t, s.DeleteClient(ctx, "svc"))
	got(store.Change{Kind: store.ChangeClient, ID: "svc"})
}

func testTimesUTC(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	loc := time.FixedZone("UTC+5:30", 5*3600+1800)
	local := time.Date(2031, 6, 7, 8, 9, 10, 123456789, loc) // nanoseconds beyond what stores keep
	want := local.UTC().Truncate(time.Microsecond)
	u := must(s.CreateUser(ctx, store.User{Username: "u", Email: "u@x", CreatedAt: local, LockedUntil: &local}))(t)
	sess := must(s.CreateSession(ctx, store.Session{UserID: u.ID, CreatedAt: local, ExpiresAt: local}))(t)
	got := must(s.GetUser(ctx, u.ID))(t)
	eqTime(t, "user created", got.CreatedAt, want)
	eqTimeP(t, "user locked until", got.LockedUntil, &want)
	gs := must(s.GetSession(ctx, sess.ID))(t)
	eqTime(t, "session created", gs.CreatedAt, want)
	eq(t, "created session matches stored", sess, gs)
	if gs.ExpiresAt.Nanosecond() != 123456000 {
		t.Fatalf("microseconds lost: %d ns", gs.ExpiresAt.Nanosecond())
	}
}
