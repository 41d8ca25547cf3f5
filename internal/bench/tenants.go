package bench

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
)

// Sizes of the tenants scenario.
const (
	scaleTenants     = 1_000
	clientsPerTenant = 10
)

// benchTenant names the i-th seeded tenant (1-based).
func benchTenant(i int) string { return fmt.Sprintf("bench-t%04d", i) }

// runTenants1k measures token requests for a random client of a random
// tenant of 1,000 (10 clients each, every tenant loaded) against requests
// for one client of one tenant, on the same server, and the heap each
// loaded tenant takes.
func runTenants1k(ctx context.Context, cfg Config, log *slog.Logger) ScenarioResult {
	res := ScenarioResult{Name: ScenarioTenants1k, Status: StatusOK, Labels: &[2]string{"random-tenant", "1-tenant"}, Figures: map[string]float64{}}
	fail := func(err error) ScenarioResult {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	ss, err := startSeeded(ctx, cfg, log, seedSpec{tenants: scaleTenants})
	if err != nil {
		return fail(err)
	}
	defer ss.stop(log)
	base := ss.proc.baseURL
	before, err := serverHeap(ctx, ss)
	if err != nil {
		return fail(err)
	}
	// Load every tenant (its runtime is built on its first request), as
	// a server that has served them all for a while has.
	begin := time.Now()
	if err := touchTenants(ctx, base, ss.secret, scaleTenants); err != nil {
		return fail(err)
	}
	res.Figures["load_all_tenants_seconds"] = time.Since(begin).Seconds()
	after, err := serverHeap(ctx, ss)
	if err != nil {
		return fail(err)
	}
	res.Figures["bytes_per_loaded_tenant"] = float64(after-before) / scaleTenants
	res.Figures["heap_mib_at_1k_tenants"] = float64(after) / (1 << 20)
	one := &sample{name: "1-tenant", newOp: ccOp(base+"/t/"+benchTenant(1), benchClientID(1), ss.secret, false), pid: ss.proc.pid()}
	random := &sample{name: "random-tenant", newOp: randomTenantOp(base, ss.secret), pid: ss.proc.pid()}
	if err := compare(ctx, cfg, log, res.Name, random, one); err != nil {
		return fail(err)
	}
	res.Permiso, res.Reference = random.measurement(), one.measurement()
	if r := res.Reference.OKPerSecond; r > 0 {
		ratio := res.Permiso.OKPerSecond / r
		res.Ratio = &ratio
	}
	return res
}

// touchTenants gets one token in every tenant, four at a time.
func touchTenants(ctx context.Context, base, secret string, n int) error {
	c := newClient(4, false)
	defer c.CloseIdleConnections()
	body := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			var buf bytes.Buffer
			for i := range next {
				r := request{method: http.MethodPost, url: base + "/t/" + benchTenant(i) + "/oauth2/token", body: body, header: http.Header{
					"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {basicAuth(benchClientID(1), secret)}}}
				b, err := r.send(ctx, c, &buf, http.StatusOK)
				if err == nil {
					err = checkToken(b)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("tenant %s: %w", benchTenant(i), err))
					mu.Unlock()
				}
			}
		})
	}
	for i := 1; i <= n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// randomTenantOp asks for a token for a random client of a random tenant
// each time. URLs and headers are built once, so this side does no more
// work per request than the one-tenant side.
func randomTenantOp(base, secret string) func(int) Op {
	urls := make([]string, scaleTenants)
	for i := range urls {
		urls[i] = base + "/t/" + benchTenant(i+1) + "/oauth2/token"
	}
	auths := make([]string, clientsPerTenant)
	for i := range auths {
		auths[i] = basicAuth(benchClientID(i+1), secret)
	}
	body := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	return func(worker int) Op {
		rng := rand.New(rand.NewPCG(uint64(worker), 0x9e3779b97f4a7c15))
		r := request{method: http.MethodPost, body: body, header: http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Authorization": {""},
		}}
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			r.url = urls[rng.IntN(scaleTenants)]
			r.header["Authorization"][0] = auths[rng.IntN(clientsPerTenant)]
			b, err := r.send(ctx, c, buf, http.StatusOK)
			if err != nil {
				return err
			}
			return checkToken(b)
		}
	}
}

// seedTenants adds spec.tenants tenants, each with the default tenant's
// scopes and clientsPerTenant copies of the template client (its scopes
// by name, its secret hashed with the tenant's own pepper, derived from
// the master key in the data directory as the server derives it). Keys,
// roles and first-party clients the server makes on each tenant's first
// request.
func seedTenants(ctx context.Context, tx *sql.Tx, dataDir, templateID, tplUUID, secret, uuid, counter string,
	copyRows func(with, table string, override map[string]string, from string, args ...any) error, n int) error {
	master, err := os.ReadFile(filepath.Join(dataDir, "master.key"))
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if err := copyRows(counter, "tenants", map[string]string{"id": uuid, "name": "printf('bench-t%04d', n.i)",
		"display_name": "'bench tenant ' || n.i"}, "FROM n, tenants t WHERE t.id = 'default'", n); err != nil {
		return fmt.Errorf("seed tenants: %w", err)
	}
	const others = "x.name LIKE 'bench-t%'"
	if err := copyRows("", "scopes", map[string]string{"id": uuid, "tenant_id": "x.id"},
		"FROM tenants x, scopes t WHERE "+others+" AND t.tenant_id = 'default'"); err != nil {
		return fmt.Errorf("seed tenant scopes: %w", err)
	}
	if err := copyRows(counter, "clients", map[string]string{"id": uuid, "tenant_id": "x.id", "client_id": "printf('bench-%07d', n.i)",
		"name": "'bench client ' || n.i", "total_requests": "0", "last_used": "NULL"},
		"FROM n, tenants x, clients t WHERE "+others+" AND t.tenant_id = 'default' AND t.client_id = ?", clientsPerTenant, templateID); err != nil {
		return fmt.Errorf("seed tenant clients: %w", err)
	}
	if err := copyRows("", "client_scopes", map[string]string{"tenant_id": "c.tenant_id", "client_id": "c.id", "scope_id": "s2.id"},
		`FROM client_scopes t JOIN scopes s1 ON s1.tenant_id = 'default' AND s1.id = t.scope_id
		JOIN clients c ON c.tenant_id <> 'default' AND c.client_id LIKE 'bench-%'
		JOIN scopes s2 ON s2.tenant_id = c.tenant_id AND s2.name = s1.name
		WHERE t.tenant_id = 'default' AND t.client_id = ?`, tplUUID); err != nil {
		return fmt.Errorf("seed tenant client scopes: %w", err)
	}
	rows, err := tx.QueryContext(ctx, "SELECT id FROM tenants WHERE name LIKE 'bench-t%'")
	if err != nil {
		return err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		pepper, err := keys.DeriveKey([]byte(strings.TrimSpace(string(master))), "client-secret pepper/tenant/"+id)
		if err != nil {
			return err
		}
		m := hmac.New(sha256.New, pepper)
		m.Write([]byte(secret))
		if err := copyRows("", "client_secrets", map[string]string{"id": uuid, "tenant_id": "c.tenant_id", "client_id": "c.id",
			"hash": "?", "last_used": "NULL"},
			"FROM clients c, client_secrets t WHERE c.tenant_id = ? AND t.tenant_id = 'default' AND t.client_id = ?",
			m.Sum(nil), id, tplUUID); err != nil {
			return fmt.Errorf("seed tenant client secrets: %w", err)
		}
	}
	return nil
}
