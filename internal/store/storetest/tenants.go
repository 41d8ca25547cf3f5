package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

// RunTenants runs the tenant conformance tests against databases made by
// newRoot: tenant administration, and isolation — nothing one tenant holds
// is visible to, or changed by, any method of another tenant's store.
func RunTenants(t *testing.T, newRoot func(t *testing.T) store.Root) {
	tests := []struct {
		name string
		fn   func(t *testing.T, r store.Root)
	}{
		{"Admin", testTenantAdmin},
		{"IsolationReads", testIsolationReads},
		{"IsolationWrites", testIsolationWrites},
		{"IsolationReferences", testIsolationReferences},
		{"IsolationSameNames", testIsolationSameNames},
		{"IsolationChangesAndLocks", testIsolationChangesAndLocks},
		{"Delete", testTenantDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newRoot(t))
		})
	}
}

func newTenant(t *testing.T, r store.Root, name string) store.Store {
	t.Helper()
	tn := must(r.CreateTenant(ctxT(t), store.Tenant{Name: name, DisplayName: name, Active: true}))(t)
	return r.Tenant(tn.ID)
}

// filled is one of everything a tenant holds.
type filled struct {
	scope   store.Scope
	role    store.Role
	user    store.User
	client  store.Client
	secret  store.ClientSecret
	session store.Session
	refresh store.RefreshToken
	code    store.AuthCode
	utoken  store.UserToken
	trust   store.Trust
	binding store.TrustBinding
}

const (
	jtiA    = "jti-of-a"
	kidA    = "kid-of-a"
	familyA = "family-of-a"
)

var replayA = []byte("replay-of-a")

func fill(t *testing.T, s store.Store) filled {
	t.Helper()
	ctx := ctxT(t)
	var f filled
	f.scope = must(s.CreateScope(ctx, store.Scope{Name: "orders:read", Description: "d"}))(t)
	f.role = must(s.CreateRole(ctx, store.Role{Name: "clerk", ScopeIDs: []string{f.scope.ID}}))(t)
	past := t0.Add(-time.Hour)
	f.user = must(s.CreateUser(ctx, store.User{Username: "ann", Email: "ann@a.example", Active: true,
		RoleIDs: []string{f.role.ID}, LockedUntil: &past}))(t)
	f.client = must(s.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential", Active: true,
		ScopeIDs: []string{f.scope.ID}}))(t)
	f.secret = must(s.AddClientSecret(ctx, store.ClientSecret{ClientID: f.client.ID, Hash: []byte("secret-hash")}))(t)
	noErr(t, s.SetWebhookSecret(ctx, f.client.ID, []byte("sealed-of-a"), t0))
	f.session = must(s.CreateSession(ctx, store.Session{UserID: f.user.ID, ClientID: "svc", ExpiresAt: past}))(t)
	f.refresh = store.RefreshToken{Hash: []byte("refresh-of-a"), FamilyID: familyA, SessionID: f.session.ID,
		UserID: f.user.ID, ClientID: "svc", ExpiresAt: past}
	noErr(t, s.CreateRefreshToken(ctx, f.refresh))
	f.code = store.AuthCode{Hash: []byte("code-of-a"), ClientID: "svc", UserID: f.user.ID, ExpiresAt: t0.Add(time.Hour)}
	noErr(t, s.CreateAuthCode(ctx, f.code))
	f.utoken = store.UserToken{Hash: []byte("utoken-of-a"), UserID: f.user.ID, Purpose: store.PurposePasswordReset, ExpiresAt: t0.Add(time.Hour)}
	noErr(t, s.CreateUserToken(ctx, f.utoken))
	noErr(t, s.Revoke(ctx, jtiA, t0.Add(time.Hour)))
	ok := must(s.ClaimReplay(ctx, replayA, t0.Add(time.Hour), t0))(t)
	eq(t, "claim A's replay record", ok, true)
	// A kid is unique in the whole database: no two issuers publish one.
	noErr(t, s.CreateKey(ctx, store.SigningKey{KID: kidA + "-" + s.TenantID(), Alg: "ES256", PrivateKey: []byte("p"), State: store.KeyActive, ActivatesAt: t0}))
	noErr(t, s.AppendAuditEvents(ctx, []store.AuditEvent{{Type: "client.created", Outcome: "success", Time: t0, Target: "svc"}}))
	f.trust = must(s.CreateTrust(ctx, store.Trust{Name: "k8s", Issuer: "https://k8s.example", KeySource: store.KeySourceJWKS,
		JWKS: []byte(`{"keys":[]}`), Audience: "aud", MaxTokenAge: time.Hour, Active: true}))(t)
	f.binding = must(s.CreateTrustBinding(ctx, store.TrustBinding{TrustID: f.trust.ID, ClientID: f.client.ID, Subject: "system:sa"}))(t)
	return f
}

// unchanged checks that everything fill wrote to s is still there as it was.
func (f filled) unchanged(t *testing.T, s store.Store) {
	t.Helper()
	ctx := ctxT(t)
	eq(t, "A's scope", must(s.GetScope(ctx, f.scope.ID))(t), f.scope)
	eq(t, "A's role", must(s.GetRole(ctx, f.role.ID))(t), f.role)
	u := must(s.GetUser(ctx, f.user.ID))(t)
	eq(t, "A's user", u.Username, f.user.Username)
	eq(t, "A's user's roles", u.RoleIDs, f.user.RoleIDs)
	eqTimeP(t, "A's user's lockout", u.LockedUntil, f.user.LockedUntil)
	eq(t, "A's client", must(s.GetClient(ctx, "svc"))(t).ScopeIDs, f.client.ScopeIDs)
	eq(t, "A's secrets", len(must(s.ListClientSecrets(ctx, f.client.ID, t0))(t)), 1)
	sealed, _, err := s.GetWebhookSecret(ctx, f.client.ID)
	noErr(t, err)
	eq(t, "A's webhook secret", string(sealed), "sealed-of-a")
	eq(t, "A's session", must(s.GetSession(ctx, f.session.ID))(t).RevokedAt == nil, true)
	rt := must(s.GetRefreshToken(ctx, f.refresh.Hash))(t)
	eq(t, "A's refresh token unrevoked", rt.RevokedAt == nil && rt.UsedAt == nil, true)
	eq(t, "A's revocation", must(s.IsRevoked(ctx, jtiA, t0))(t), true)
	eq(t, "A's keys", len(must(s.ListKeys(ctx))(t)), 1)
	_, n := must2(s.ListAuditEvents(ctx, store.AuditFilter{}))(t)
	eq(t, "A's audit events", n, 1)
	eq(t, "A's trust", must(s.GetTrust(ctx, "k8s"))(t).ID, f.trust.ID)
	eq(t, "A's bindings", len(must(s.ListTrustBindings(ctx, store.TrustBindingFilter{}))(t)), 1)
	ok := must(s.ClaimReplay(ctx, replayA, t0.Add(time.Hour), t0))(t)
	eq(t, "A's replay record still claimed", ok, false)
}

func must2[T any](v T, n int, err error) func(t *testing.T) (T, int) {
	return func(t *testing.T) (T, int) {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v, n
	}
}

func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s from another tenant: error = %v, want ErrNotFound", what, err)
	}
}

func testTenantAdmin(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	def := must(r.GetTenant(ctx, store.DefaultTenant))(t)
	eq(t, "default tenant name", def.Name, "default")
	eq(t, "default tenant active", def.Active, true)
	a := must(r.CreateTenant(ctx, store.Tenant{Name: "acme", DisplayName: "Acme", Active: true, CreatedAt: t0}))(t)
	if !uuidRE.MatchString(a.ID) {
		t.Fatalf("tenant id %q is not a UUIDv4", a.ID)
	}
	eq(t, "created tenant", a, store.Tenant{ID: a.ID, Name: "acme", DisplayName: "Acme", Active: true, CreatedAt: t0, UpdatedAt: t0})
	eq(t, "by name", must(r.GetTenantByName(ctx, "acme"))(t), a)
	eq(t, "by id", must(r.GetTenant(ctx, a.ID))(t), a)
	_, err := r.CreateTenant(ctx, store.Tenant{Name: "acme"})
	wantErr(t, "duplicate name", err, store.ErrConflict)
	_, err = r.GetTenantByName(ctx, "nope")
	wantErr(t, "unknown name", err, store.ErrNotFound)
	must(r.CreateTenant(ctx, store.Tenant{Name: "globex", DisplayName: "Globex Corporation", Active: true}))(t)

	list, n := must2(r.ListTenants(ctx, store.TenantFilter{}))(t)
	eq(t, "tenants", n, 3)
	eq(t, "tenants by name", []string{list[0].Name, list[1].Name, list[2].Name}, []string{"acme", "default", "globex"})
	list, n = must2(r.ListTenants(ctx, store.TenantFilter{Search: "CORP"}))(t)
	eq(t, "search", n, 1)
	eq(t, "search result", list[0].Name, "globex")

	off := t0.Add(time.Minute)
	upd := must(r.UpdateTenant(ctx, a.ID, func(x store.Tenant) (store.Tenant, error) {
		x.Active, x.TokensValidAfter, x.Name, x.DisplayName = false, &off, "renamed", "Acme Inc."
		return x, nil
	}))(t)
	eq(t, "name is fixed", upd.Name, "acme")
	eq(t, "disabled", upd.Active, false)
	eqTimeP(t, "tokens valid after", must(r.GetTenant(ctx, a.ID))(t).TokensValidAfter, &off)
	list, n = must2(r.ListTenants(ctx, store.TenantFilter{Active: ptr(false)}))(t)
	eq(t, "inactive tenants", n, 1)
	eq(t, "inactive tenant", list[0].DisplayName, "Acme Inc.")
	_, err = r.UpdateTenant(ctx, "no-such-id", func(x store.Tenant) (store.Tenant, error) { return x, nil })
	wantErr(t, "update unknown", err, store.ErrNotFound)
	wantErr(t, "delete default", r.DeleteTenantData(ctx, store.DefaultTenant, t0, t0), store.ErrConflict)
}

func testIsolationReads(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	f := fill(t, a)
	if a.TenantID() == b.TenantID() {
		t.Fatal("two tenants' stores have one tenant id")
	}

	_, err := b.GetScope(ctx, f.scope.ID)
	notFound(t, "GetScope", err)
	_, err = b.GetScopeByName(ctx, f.scope.Name)
	notFound(t, "GetScopeByName", err)
	_, n := must2(b.ListScopes(ctx, store.ScopeFilter{}))(t)
	eq(t, "ListScopes", n, 0)
	roles, clients := must2(b.ScopeUsage(ctx, f.scope.ID))(t)
	eq(t, "ScopeUsage", [2]int{roles, clients}, [2]int{0, 0})

	_, err = b.GetRole(ctx, f.role.ID)
	notFound(t, "GetRole", err)
	_, err = b.GetRoleByName(ctx, f.role.Name)
	notFound(t, "GetRoleByName", err)
	_, n = must2(b.ListRoles(ctx, store.RoleFilter{}))(t)
	eq(t, "ListRoles", n, 0)
	_, n = must2(b.ListRoles(ctx, store.RoleFilter{ScopeID: f.scope.ID}))(t)
	eq(t, "ListRoles by A's scope", n, 0)
	eq(t, "RoleUserCounts", len(must(b.RoleUserCounts(ctx))(t)), 0)

	_, err = b.GetClient(ctx, f.client.ClientID)
	notFound(t, "GetClient", err)
	_, n = must2(b.ListClients(ctx, store.ClientFilter{}))(t)
	eq(t, "ListClients", n, 0)
	_, n = must2(b.ListClients(ctx, store.ClientFilter{ScopeID: f.scope.ID}))(t)
	eq(t, "ListClients by A's scope", n, 0)
	eq(t, "ListClientSecrets of A's client", len(must(b.ListClientSecrets(ctx, f.client.ID, t0))(t)), 0)
	_, _, err = b.GetWebhookSecret(ctx, f.client.ID)
	notFound(t, "GetWebhookSecret", err)

	_, err = b.GetUser(ctx, f.user.ID)
	notFound(t, "GetUser", err)
	_, err = b.GetUserByLogin(ctx, f.user.Username)
	notFound(t, "GetUserByLogin (username)", err)
	_, err = b.GetUserByLogin(ctx, f.user.Email)
	notFound(t, "GetUserByLogin (email)", err)
	_, n = must2(b.ListUsers(ctx, store.UserFilter{}))(t)
	eq(t, "ListUsers", n, 0)
	_, n = must2(b.ListUsers(ctx, store.UserFilter{RoleID: f.role.ID}))(t)
	eq(t, "ListUsers by A's role", n, 0)
	eq(t, "UserStats", must(b.UserStats(ctx, t0))(t), store.UserStats{})

	_, err = b.GetSession(ctx, f.session.ID)
	notFound(t, "GetSession", err)
	eq(t, "ListSessions of A's user", len(must(b.ListSessions(ctx, f.user.ID, t0.Add(-2*time.Hour)))(t)), 0)
	eq(t, "SessionStats", must(b.SessionStats(ctx, t0, t0.Add(-24*time.Hour)))(t), store.SessionStats{})
	_, err = b.GetRefreshToken(ctx, f.refresh.Hash)
	notFound(t, "GetRefreshToken", err)
	_, err = b.UseRefreshToken(ctx, f.refresh.Hash, t0)
	notFound(t, "UseRefreshToken", err)
	_, err = b.ConsumeAuthCode(ctx, f.code.Hash, t0)
	notFound(t, "ConsumeAuthCode", err)
	_, err = b.ConsumeUserToken(ctx, f.utoken.Hash, store.PurposePasswordReset, t0)
	notFound(t, "ConsumeUserToken", err)

	eq(t, "IsRevoked", must(b.IsRevoked(ctx, jtiA, t0))(t), false)
	eq(t, "ListRevocations", len(must(b.ListRevocations(ctx, 0, t0, 100))(t)), 0)
	eq(t, "ListKeys", len(must(b.ListKeys(ctx))(t)), 0)
	_, n = must2(b.ListAuditEvents(ctx, store.AuditFilter{}))(t)
	eq(t, "ListAuditEvents", n, 0)
	_, err = b.GetTrust(ctx, f.trust.Name)
	notFound(t, "GetTrust", err)
	eq(t, "ListTrusts", len(must(b.ListTrusts(ctx))(t)), 0)
	eq(t, "ListTrustBindings of A's trust", len(must(b.ListTrustBindings(ctx, store.TrustBindingFilter{TrustID: f.trust.ID}))(t)), 0)
	eq(t, "ListTrustBindings", len(must(b.ListTrustBindings(ctx, store.TrustBindingFilter{}))(t)), 0)
	// A replay record is the tenant's own: the same value is new in B.
	eq(t, "ClaimReplay of A's value in B", must(b.ClaimReplay(ctx, replayA, t0.Add(time.Hour), t0))(t), true)
	noErr(t, b.RecordReplays(ctx, []store.ReplayRecord{{Key: []byte("b-batch"), ExpiresAt: t0.Add(time.Hour)}}))
	eq(t, "RecordReplays of B reaches A", must(a.ClaimReplay(ctx, []byte("b-batch"), t0.Add(time.Hour), t0))(t), true)
	f.unchanged(t, a)
}

func testIsolationWrites(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	f := fill(t, a)
	keep := func(x store.Scope) (store.Scope, error) { x.Name = "taken-over"; return x, nil }
	_, err := b.UpdateScope(ctx, f.scope.ID, keep)
	notFound(t, "UpdateScope", err)
	notFound(t, "DeleteScope", b.DeleteScope(ctx, f.scope.ID))
	_, err = b.UpdateRole(ctx, f.role.ID, func(x store.Role) (store.Role, error) { x.ScopeIDs = nil; return x, nil })
	notFound(t, "UpdateRole", err)
	notFound(t, "DeleteRole", b.DeleteRole(ctx, f.role.ID))
	_, err = b.UpdateClient(ctx, f.client.ClientID, func(x store.Client) (store.Client, error) { x.ScopeIDs = nil; return x, nil })
	notFound(t, "UpdateClient", err)
	notFound(t, "DeleteClient", b.DeleteClient(ctx, f.client.ClientID))
	notFound(t, "RecordClientUsage", b.RecordClientUsage(ctx, f.client.ClientID, 5, t0))
	_, err = b.AddClientSecret(ctx, store.ClientSecret{ClientID: f.client.ID, Hash: []byte("mine")})
	notFound(t, "AddClientSecret to A's client", err)
	notFound(t, "SetWebhookSecret of A's client", b.SetWebhookSecret(ctx, f.client.ID, []byte("mine"), t0))
	if err := b.ExpireClientSecrets(ctx, f.client.ID, "", t0.Add(-time.Hour)); !errors.Is(err, store.ErrNotFound) && err != nil {
		t.Fatalf("ExpireClientSecrets of A's client: %v", err)
	}
	_, err = b.UpdateUser(ctx, f.user.ID, func(x store.User) (store.User, error) { x.Superuser = true; return x, nil })
	notFound(t, "UpdateUser", err)
	notFound(t, "DeleteUser", b.DeleteUser(ctx, f.user.ID))
	eq(t, "UnlockExpired", must(b.UnlockExpired(ctx, t0))(t), 0)
	_, err = b.CreateSession(ctx, store.Session{UserID: f.user.ID, ExpiresAt: t0})
	notFound(t, "CreateSession for A's user", err)
	_, err = b.UpdateSession(ctx, f.session.ID, func(x store.Session) (store.Session, error) { x.RevokedAt = &t0; return x, nil })
	notFound(t, "UpdateSession", err)
	eq(t, "RevokeUserSessions", must(b.RevokeUserSessions(ctx, f.user.ID, t0.Add(-2*time.Hour)))(t), 0)
	eq(t, "DeleteExpiredSessions", must(b.DeleteExpiredSessions(ctx, t0))(t), 0)
	err = b.CreateRefreshToken(ctx, store.RefreshToken{Hash: []byte("b-token"), UserID: f.user.ID, SessionID: f.session.ID, ExpiresAt: t0})
	notFound(t, "CreateRefreshToken for A's user and session", err)
	eq(t, "RevokeRefreshFamily", must(b.RevokeRefreshFamily(ctx, familyA, t0))(t), 0)
	eq(t, "RevokeSessionRefreshTokens", must(b.RevokeSessionRefreshTokens(ctx, f.session.ID, t0))(t), 0)
	eq(t, "RevokeUserRefreshTokens", must(b.RevokeUserRefreshTokens(ctx, f.user.ID, t0))(t), 0)
	eq(t, "DeleteExpiredRefreshTokens", must(b.DeleteExpiredRefreshTokens(ctx, t0))(t), 0)
	notFound(t, "CreateAuthCode for A's user", b.CreateAuthCode(ctx, store.AuthCode{Hash: []byte("b-code"), UserID: f.user.ID, ExpiresAt: t0}))
	notFound(t, "CreateUserToken for A's user", b.CreateUserToken(ctx, store.UserToken{Hash: []byte("b-ut"), UserID: f.user.ID,
		Purpose: store.PurposePasswordReset, ExpiresAt: t0}))
	eq(t, "DeleteExpiredUserTokens", must(b.DeleteExpiredUserTokens(ctx, t0.Add(2*time.Hour)))(t), 0)
	eq(t, "DeleteExpiredRevocations", must(b.DeleteExpiredRevocations(ctx, t0.Add(2*time.Hour)))(t), 0)
	eq(t, "DeleteExpiredReplays", must(b.DeleteExpiredReplays(ctx, t0.Add(2*time.Hour)))(t), 0)
	eq(t, "DeleteAuditEventsBefore", must(b.DeleteAuditEventsBefore(ctx, t0.Add(time.Hour)))(t), 0)
	_, err = b.UpdateKey(ctx, kidA+"-"+a.TenantID(), func(k store.SigningKey) (store.SigningKey, error) { k.State = store.KeyRetired; return k, nil })
	notFound(t, "UpdateKey", err)
	notFound(t, "DeleteKey", b.DeleteKey(ctx, kidA+"-"+a.TenantID()))
	_, err = b.UpdateTrust(ctx, f.trust.Name, func(x store.Trust) (store.Trust, error) { x.Active = false; return x, nil })
	notFound(t, "UpdateTrust", err)
	notFound(t, "DeleteTrust", b.DeleteTrust(ctx, f.trust.Name))
	notFound(t, "DeleteTrustBinding", b.DeleteTrustBinding(ctx, f.binding.ID))
	f.unchanged(t, a)
}

// testIsolationReferences: a row of one tenant can never name a row of
// another, even by its id.
func testIsolationReferences(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	f := fill(t, a)
	_, err := b.CreateRole(ctx, store.Role{Name: "thief", ScopeIDs: []string{f.scope.ID}})
	notFound(t, "CreateRole with A's scope", err)
	_, err = b.CreateClient(ctx, store.Client{ClientID: "thief", Type: "confidential", ScopeIDs: []string{f.scope.ID}})
	notFound(t, "CreateClient with A's scope", err)
	_, err = b.CreateUser(ctx, store.User{Username: "thief", Email: "t@b", RoleIDs: []string{f.role.ID}})
	notFound(t, "CreateUser with A's role", err)
	own := must(b.CreateUser(ctx, store.User{Username: "bob", Email: "bob@b"}))(t)
	_, err = b.UpdateUser(ctx, own.ID, func(x store.User) (store.User, error) { x.RoleIDs = []string{f.role.ID}; return x, nil })
	notFound(t, "UpdateUser to A's role", err)
	ownRole := must(b.CreateRole(ctx, store.Role{Name: "own"}))(t)
	_, err = b.UpdateRole(ctx, ownRole.ID, func(x store.Role) (store.Role, error) { x.ScopeIDs = []string{f.scope.ID}; return x, nil })
	notFound(t, "UpdateRole to A's scope", err)
	ownClient := must(b.CreateClient(ctx, store.Client{ClientID: "own", Type: "confidential"}))(t)
	_, err = b.CreateTrustBinding(ctx, store.TrustBinding{TrustID: f.trust.ID, ClientID: ownClient.ID, Subject: "s"})
	notFound(t, "CreateTrustBinding to A's trust", err)
	ownTrust := must(b.CreateTrust(ctx, store.Trust{Name: "t", KeySource: store.KeySourceJWKS, JWKS: []byte(`{"keys":[]}`), MaxTokenAge: time.Hour}))(t)
	_, err = b.CreateTrustBinding(ctx, store.TrustBinding{TrustID: ownTrust.ID, ClientID: f.client.ID, Subject: "s"})
	notFound(t, "CreateTrustBinding of A's client", err)
	f.unchanged(t, a)
}

// testIsolationSameNames: names, logins, client_ids and jtis are unique
// per tenant, so two tenants may use the same ones.
func testIsolationSameNames(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	f := fill(t, a)
	g := fill(t, b)
	if g.scope.ID == f.scope.ID || g.user.ID == f.user.ID || g.client.ID == f.client.ID {
		t.Fatal("two tenants' rows share an id")
	}
	eq(t, "B's user by login", must(b.GetUserByLogin(ctx, "ANN"))(t).ID, g.user.ID)
	eq(t, "A's user by login", must(a.GetUserByLogin(ctx, "ann@a.example"))(t).ID, f.user.ID)
	eq(t, "B's client", must(b.GetClient(ctx, "svc"))(t).ID, g.client.ID)
	_, err := b.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"})
	wantErr(t, "duplicate client_id within B", err, store.ErrConflict)
	noErr(t, b.DeleteClient(ctx, "svc"))
	_, err = a.GetClient(ctx, "svc")
	noErr(t, err)
}

func testIsolationChangesAndLocks(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	chB := collect(t, b)
	chAll := make(chan store.Change, 64)
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	noErr(t, r.Subscribe(sctx, func(c store.Change) { chAll <- c }))

	must(a.CreateClient(ctx, store.Client{ClientID: "from-a", Type: "confidential"}))(t)
	must(b.CreateClient(ctx, store.Client{ClientID: "from-b", Type: "confidential"}))(t)
	c := await(t, chB, store.Change{Kind: store.ChangeClient, ID: "from-b"})
	eq(t, "B's change names B", c.Tenant, b.TenantID())
	c = await(t, chAll, store.Change{Kind: store.ChangeClient, ID: "from-a"})
	eq(t, "the database's subscriber sees A's change named A", c.Tenant, a.TenantID())
	// B's subscriber got B's change; everything before it must not be A's.
	for {
		select {
		case c := <-chB:
			if c.Tenant == a.TenantID() {
				t.Fatalf("B's subscriber received A's change %+v", c)
			}
			continue
		default:
		}
		break
	}

	// Locks of one name in two tenants do not exclude each other.
	noErr(t, a.Lock(ctx, "signing-keys", func(ctx context.Context) error {
		done := make(chan error, 1)
		go func() { done <- b.Lock(ctx, "signing-keys", func(context.Context) error { return nil }) }()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("B's lock waited for A's")
			return nil
		}
	}))
}

func testTenantDelete(t *testing.T, r store.Root) {
	ctx := ctxT(t)
	a, b := newTenant(t, r, "a"), newTenant(t, r, "b")
	fill(t, a)
	g := fill(t, b)
	defaultStore := r.Tenant(store.DefaultTenant)
	must(defaultStore.CreateScope(ctx, store.Scope{Name: "orders:read"}))(t)

	purge := t0.Add(25 * time.Hour)
	noErr(t, r.DeleteTenantData(ctx, a.TenantID(), t0, purge))
	wantErr(t, "delete twice", r.DeleteTenantData(ctx, a.TenantID(), t0, purge), store.ErrNotFound)
	tomb := must(r.GetTenantByName(ctx, "a"))(t)
	if !tomb.Deleted() || tomb.Active {
		t.Fatalf("deleted tenant = %+v, want an inactive tombstone", tomb)
	}
	eqTimeP(t, "purge after", tomb.PurgeAfter, &purge)
	eqTimeP(t, "tokens valid after", tomb.TokensValidAfter, &t0)
	_, n := must2(r.ListTenants(ctx, store.TenantFilter{}))(t)
	eq(t, "listed tenants (tombstones left out)", n, 2)
	_, err := r.CreateTenant(ctx, store.Tenant{Name: "a"})
	wantErr(t, "reusing a tombstone's name", err, store.ErrConflict)
	_, err = r.UpdateTenant(ctx, a.TenantID(), func(x store.Tenant) (store.Tenant, error) { x.Active = true; return x, nil })
	wantErr(t, "enabling a tombstone", err, store.ErrNotFound)

	_, n = must2(a.ListClients(ctx, store.ClientFilter{}))(t)
	eq(t, "A's clients after deletion", n, 0)
	_, n = must2(a.ListUsers(ctx, store.UserFilter{}))(t)
	eq(t, "A's users after deletion", n, 0)
	eq(t, "A's keys after deletion", len(must(a.ListKeys(ctx))(t)), 0)
	_, n = must2(a.ListAuditEvents(ctx, store.AuditFilter{}))(t)
	eq(t, "A's audit events after deletion", n, 0)
	eq(t, "A's revocations after deletion", len(must(a.ListRevocations(ctx, 0, t0, 10))(t)), 0)
	g.unchanged(t, b)
	must(defaultStore.GetScopeByName(ctx, "orders:read"))(t)

	eq(t, "purge too early", must(r.PurgeTenants(ctx, purge.Add(-time.Second)))(t), 0)
	eq(t, "purge", must(r.PurgeTenants(ctx, purge))(t), 1)
	_, err = r.GetTenant(ctx, a.TenantID())
	wantErr(t, "purged tenant", err, store.ErrNotFound)
	again := must(r.CreateTenant(ctx, store.Tenant{Name: "a", Active: true}))(t)
	if again.ID == a.TenantID() {
		t.Fatal("a tenant created again under a name reuses the old tenant's id")
	}
	g.unchanged(t, b)

	// PurgeExpired works across tenants and reads nothing out.
	must(r.PurgeExpired(ctx, t0.Add(2*time.Hour), t0.Add(time.Hour)))(t)
	eq(t, "B's revocation purged", must(b.IsRevoked(ctx, jtiA, t0))(t), false)
	_, n = must2(b.ListAuditEvents(ctx, store.AuditFilter{}))(t)
	eq(t, "B's audit events purged", n, 0)
}
