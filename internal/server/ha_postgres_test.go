package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// propagation is the bound the issue sets for a change made on one
// replica to take effect on every other.
const propagation = time.Second

// haPair starts two replicas on one fresh PostgreSQL database. As behind
// a load balancer, they share the issuer and the master key; they share
// the data directory only so both find the bootstrap credentials that the
// first one wrote.
func haPair(t *testing.T) (a, b *testServer, dsn string) {
	t.Helper()
	dsn = sqltest.PostgresURL(t)
	dir := filepath.Join(t.TempDir(), "data")
	var rs [2]*testServer
	issuer := ""
	for i := range rs {
		cfg := replicaConfig(t, dir)
		if issuer == "" {
			issuer = cfg.Issuer
		}
		cfg.DatabaseURL, cfg.Issuer = dsn, issuer
		rs[i] = startReplica(t, cfg).ts()
	}
	return rs[0], rs[1], dsn
}

func (ts *testServer) introspectActive(tok, id, secret string) bool {
	ts.t.Helper()
	r := ts.form("/oauth2/introspect", url.Values{"token": {tok}}, id, secret)
	if r.Status != 200 {
		ts.t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.JSON["active"] == true
}

// TestHAChangesReachOtherReplica: a client disabled, a token revoked and a
// key rotated on replica A take effect on replica B within a second.
func TestHAChangesReachOtherReplica(t *testing.T) {
	a, b, _ := haPair(t)
	id, secret := a.createClient(map[string]any{"name": "Replicated", "client_id": "replicated", "scope_ids": []string{"trade:read"}})
	admin := a.adminToken()

	t.Run("client disabled on A is refused by B", func(t *testing.T) {
		b.token(id, secret, nil) // B now holds the client in its cache
		if r := a.jsonReq("PUT", "/api/v1/service-clients/"+id, admin, map[string]any{"is_active": false}); r.Status != 200 {
			t.Fatalf("disable: %d %s", r.Status, r.Body)
		}
		took := waitUntil(t, propagation, "B refuses the disabled client", func() bool {
			return b.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status == 401
		})
		t.Logf("propagated in %v", took)
		if r := a.jsonReq("PUT", "/api/v1/service-clients/"+id, admin, map[string]any{"is_active": true}); r.Status != 200 {
			t.Fatalf("enable: %d %s", r.Status, r.Body)
		}
		waitUntil(t, propagation, "B serves the re-enabled client", func() bool {
			return b.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status == 200
		})
	})

	t.Run("token revoked on A is inactive on B", func(t *testing.T) {
		tok := a.token(id, secret, nil)
		if !b.introspectActive(tok, id, secret) {
			t.Fatal("fresh token inactive on B")
		}
		if r := a.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		took := waitUntil(t, propagation, "B reports the revoked token inactive", func() bool {
			return !b.introspectActive(tok, id, secret)
		})
		t.Logf("propagated in %v", took)
	})

	t.Run("key rotated on A is in B's JWKS", func(t *testing.T) {
		b.do("GET", "/.well-known/jwks.json", nil, nil) // B has served its key set
		r := a.jsonReq("POST", "/api/v1/admin/keys/rotate", admin, map[string]any{"delay_seconds": 0})
		if r.Status != 201 || r.str("kid") == "" {
			t.Fatalf("rotate: %d %s", r.Status, r.Body)
		}
		kid := r.str("kid")
		took := waitUntil(t, propagation, "B publishes the new key", func() bool {
			return strings.Contains(string(b.do("GET", "/.well-known/jwks.json", nil, nil).Body), `"kid":"`+kid+`"`)
		})
		t.Logf("propagated in %v", took)
	})
}

// TestHAConcurrentStart starts three replicas at once on a fresh database:
// migrations run once, one signing key is active and one bootstrap client
// exists.
func TestHAConcurrentStart(t *testing.T) {
	dsn := sqltest.PostgresURL(t)
	dir := filepath.Join(t.TempDir(), "data")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		reps []*replica
		errs []error
	)
	for range 3 {
		cfg := replicaConfig(t, dir)
		cfg.DatabaseURL = dsn
		wg.Go(func() {
			r, err := launchReplica(t, cfg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			reps = append(reps, r)
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("replicas failed to start: %v", errs)
	}

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	files, err := os.ReadDir("../store/sqlstore/migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinct, active, bootstrap int
	q := func(sql string, dst *int) {
		if err := conn.QueryRow(ctx, sql).Scan(dst); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q("SELECT COUNT(*) FROM schema_migrations", &rows)
	q("SELECT COUNT(DISTINCT version) FROM schema_migrations", &distinct)
	q("SELECT COUNT(*) FROM signing_keys WHERE state = 'active'", &active)
	q("SELECT COUNT(*) FROM clients WHERE client_id = '"+server.BootstrapClientID+"'", &bootstrap)
	if rows != len(files) || distinct != rows {
		t.Errorf("schema_migrations: %d rows, %d versions, want one row for each of %d migrations", rows, distinct, len(files))
	}
	if active != 1 || bootstrap != 1 {
		t.Errorf("%d active signing keys and %d bootstrap clients, want 1 and 1", active, bootstrap)
	}
	// Every replica serves the same key set and accepts the one bootstrap secret.
	var jwks []string
	for _, r := range reps {
		ts := r.ts()
		ts.adminToken()
		var set struct {
			Keys []struct{ Kid string } `json:"keys"`
		}
		json.Unmarshal(ts.do("GET", "/.well-known/jwks.json", nil, nil).Body, &set)
		if len(set.Keys) != 1 {
			t.Errorf("replica %s publishes %d keys, want 1", r.URL, len(set.Keys))
			continue
		}
		jwks = append(jwks, set.Keys[0].Kid)
	}
	if len(jwks) == 3 && (jwks[0] != jwks[1] || jwks[1] != jwks[2]) {
		t.Errorf("replicas publish different keys: %v", jwks)
	}
}
