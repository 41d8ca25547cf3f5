package keys_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newManager(t *testing.T, db *sqlstore.Tenant, clk *clock, master string) *keys.Manager {
	t.Helper()
	m, err := keys.New(keys.Config{Store: db, MasterKey: []byte(master), PublishDelay: 10 * time.Minute, RetainFor: 25 * time.Hour, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func openDB(t *testing.T) *sqlstore.Tenant {
	t.Helper()
	root, err := sqlstore.Open(context.Background(), sqlstore.Config{URL: filepath.Join(t.TempDir(), "k.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	if err := root.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	db := root.ForTenant(store.DefaultTenant)
	return db
}

var master = strings.Repeat("m", 32)

func TestRotationSchedule(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: time.Unix(1_800_000_000, 0)}
	m := newManager(t, db, clk, master)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	first := m.Signer().KID
	next, err := m.Rotate(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Signer().KID != first {
		t.Fatal("new key signs before its publish delay")
	}
	if _, err := m.Key(ctx, next); err != nil {
		t.Fatal("next key is not published")
	}
	clk.add(9 * time.Minute)
	m.Tick(ctx)
	if m.Signer().KID != first {
		t.Fatal("promoted early")
	}
	clk.add(2 * time.Minute)
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Signer().KID != next {
		t.Fatalf("signer %s, want %s", m.Signer().KID, next)
	}
	if _, err := m.Key(ctx, first); err != nil {
		t.Fatal("retired key left the JWKS too early")
	}
	clk.add(25*time.Hour + time.Second)
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Key(ctx, first); err == nil {
		t.Fatal("retired key still published after its retention")
	}
	var set struct{ Keys []json.RawMessage }
	jwks, _ := m.JWKS()
	json.Unmarshal(jwks, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys", len(set.Keys))
	}
}

func TestPrivateKeysEncryptedAtRest(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	m := newManager(t, db, clk, master)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	ks, _ := db.ListKeys(ctx)
	if len(ks) != 1 || len(ks[0].PrivateKey) < 40 || strings.Contains(string(ks[0].PrivateKey), "PRIVATE") {
		t.Fatalf("stored key %+v", ks)
	}
	other := newManager(t, db, clk, strings.Repeat("x", 32))
	if err := other.Reload(ctx); err == nil {
		t.Fatal("a different master key decrypted the signing key")
	}
}

func TestConcurrentInitCreatesOneKey(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	clk := &clock{t: time.Now()}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := newManager(t, db, clk, master).Init(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	ks, _ := db.ListKeys(ctx)
	active := 0
	for _, k := range ks {
		if k.State == store.KeyActive {
			active++
		}
	}
	if len(ks) != 1 || active != 1 {
		t.Fatalf("%d keys, %d active", len(ks), active)
	}
}
