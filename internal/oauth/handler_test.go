package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/tokens"
)

// countingStore counts the calls that reach the database.
type countingStore struct {
	*sqlstore.Tenant
	calls atomic.Int64
}

func (c *countingStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	c.calls.Add(1)
	return c.Tenant.GetClient(ctx, id)
}

func (c *countingStore) ListClientSecrets(ctx context.Context, id string, now time.Time) ([]store.ClientSecret, error) {
	c.calls.Add(1)
	return c.Tenant.ListClientSecrets(ctx, id, now)
}

func (c *countingStore) GetScopeByName(ctx context.Context, name string) (store.Scope, error) {
	c.calls.Add(1)
	return c.Tenant.GetScopeByName(ctx, name)
}

type fixture struct {
	mux    *http.ServeMux
	db     *countingStore
	id     string
	secret string
	cfg    oauth.Config
	usage  *oauth.Usage
}

// rebuild makes a new provider with f.usage and rec, keeping the store.
func (f *fixture) rebuild(t *testing.T, rec *captured) {
	t.Helper()
	cfg := f.cfg
	cfg.Usage, cfg.Audit = f.usage, rec
	f.mux = http.NewServeMux()
	oauth.New(cfg).Mount(f.mux)
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(tb.TempDir(), "p.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { root.Close() })
	if err := root.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	raw := root.ForTenant(store.DefaultTenant)
	db := &countingStore{Tenant: raw}
	cache := store.NewCache(db, store.CacheConfig{})
	if err := rbac.Seed(ctx, cache); err != nil {
		tb.Fatal(err)
	}
	km, err := keys.New(keys.Config{Store: raw, MasterKey: []byte(strings.Repeat("m", 32))})
	if err != nil {
		tb.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		tb.Fatal(err)
	}
	secrets := oauth.NewSecrets([]byte(strings.Repeat("p", 32)), nil)
	var scopeIDs []string
	for _, n := range []string{"trade:read", "market:data"} {
		s, err := cache.GetScopeByName(ctx, n)
		if err != nil {
			tb.Fatal(err)
		}
		scopeIDs = append(scopeIDs, s.ID)
	}
	c, err := cache.CreateClient(ctx, store.Client{ClientID: "bench", Name: "bench", Type: "confidential", Active: true,
		ScopeIDs: scopeIDs, Audiences: []string{"https://mt5.example"}, AccessTokenLifetime: 3600})
	if err != nil {
		tb.Fatal(err)
	}
	secret, hash := secrets.Generate()
	if _, err := cache.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: hash}); err != nil {
		tb.Fatal(err)
	}
	rl := tokens.NewRevocationList(tokens.RevocationConfig{Store: raw})
	cfg := oauth.Config{Issuer: "https://auth.example", Store: cache,
		Tokens: tokens.New(tokens.Config{Keys: km, Issuer: "https://auth.example"}), Revocations: rl,
		Keys: km, Secrets: secrets, Usage: oauth.NewUsage(raw, nil, nil, nil)}
	mux := http.NewServeMux()
	oauth.New(cfg).Mount(mux)
	return &fixture{mux: mux, db: db, id: "bench", secret: secret, cfg: cfg}
}

func (f *fixture) tokenRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader("grant_type=client_credentials&scope=trade%3Aread"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(f.id), url.QueryEscape(f.secret))
	return r
}

// The steady path of the token endpoint must not touch the database: the
// client and its secrets come from the cache, usage counters are batched.
func TestTokenSteadyPathMakesNoStoreCalls(t *testing.T) {
	f := newFixture(t)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, f.tokenRequest())
	if w.Code != 200 {
		t.Fatalf("first token: %d %s", w.Code, w.Body)
	}
	before := f.db.calls.Load()
	for range 50 {
		w := httptest.NewRecorder()
		f.mux.ServeHTTP(w, f.tokenRequest())
		if w.Code != 200 {
			t.Fatalf("token: %d %s", w.Code, w.Body)
		}
	}
	if n := f.db.calls.Load() - before; n != 0 {
		t.Fatalf("%d store calls on the steady path", n)
	}
}

func BenchmarkTokenHandler(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.mux.ServeHTTP(w, f.tokenRequest())
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkTokenHandlerParallel(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			f.mux.ServeHTTP(w, f.tokenRequest())
			if w.Code != 200 {
				b.Errorf("%d", w.Code)
				return
			}
		}
	})
}

type captured struct {
	mu     sync.Mutex
	events []store.AuditEvent
}

func (c *captured) Record(_ context.Context, e store.AuditEvent) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// Service tokens are audited as one event per client and grant per flush,
// carrying the count, so a token storm does not become an audit storm.
func TestServiceTokensAuditedInAggregate(t *testing.T) {
	f := newFixture(t)
	rec := &captured{}
	f.usage = oauth.NewUsage(f.db.Tenant, rec, nil, nil)
	f.rebuild(t, rec)
	for range 7 {
		w := httptest.NewRecorder()
		f.mux.ServeHTTP(w, f.tokenRequest())
		if w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if len(rec.events) != 0 {
		t.Fatalf("%d events before the flush, want 0", len(rec.events))
	}
	f.usage.Flush(context.Background())
	if len(rec.events) != 1 {
		t.Fatalf("%d events after the flush, want 1", len(rec.events))
	}
	e := rec.events[0]
	if e.Type != "token.issued" || e.ActorID != "bench" || e.Details["count"] != int64(7) || e.Details["grant"] != "client_credentials" {
		t.Fatalf("event %+v", e)
	}
	c, err := f.db.Tenant.GetClient(context.Background(), "bench")
	if err != nil || c.TotalRequests != 7 || c.LastUsed == nil {
		t.Fatalf("usage counters: %+v %v", c, err)
	}
}
