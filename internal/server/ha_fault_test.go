package server_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// ownPostgres is a PostgreSQL server this test starts and stops, on a port
// of its own, so the shared one at :5432 is never touched.
type ownPostgres struct {
	t        *testing.T
	bin, dir string
	port     string
	runAs    []string // prefix that runs a command as the postgres user
	DSN      string
}

func newOwnPostgres(t *testing.T) *ownPostgres {
	t.Helper()
	skip := func(msg string) {
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
	}
	p := &ownPostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	// PostgreSQL refuses to run as root: run it as the postgres user, in a
	// directory that user owns (t.TempDir's parents are private to root).
	dir, err := os.MkdirTemp("", "permiso-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			skip("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	p.port = strconv.Itoa(freePort(t))
	p.run(filepath.Join(p.bin, "initdb"), "-D", p.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	p.start()
	p.DSN = "postgres://postgres@127.0.0.1:" + p.port + "/postgres?sslmode=disable"
	t.Cleanup(func() { p.stop() })
	return p
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (p *ownPostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *ownPostgres) run(args ...string) {
	p.t.Helper()
	args = append(append([]string{}, p.runAs...), args...)
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func (p *ownPostgres) start() {
	p.t.Helper()
	p.run(filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-l", filepath.Join(p.dir, "log"), "-w", "-t", "30",
		"-o", "-p "+p.port+" -k "+p.dir+" -c listen_addresses=127.0.0.1 -c fsync=off", "start")
}

// stop kills PostgreSQL the hard way (immediate mode: no checkpoint, as
// in a crash).
func (p *ownPostgres) stop() {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err != nil {
		return
	}
	args := append(append([]string{}, p.runAs...), filepath.Join(p.bin, "pg_ctl"), "-D", p.data(), "-m", "immediate", "-w", "stop")
	exec.Command(args[0], args[1:]...).Run()
}

// TestPostgresOutage stops PostgreSQL under a bounded load of token
// requests and starts it again: readiness follows the database, cached
// clients keep getting tokens (or a clear 503), and Permiso recovers
// without a restart.
func TestPostgresOutage(t *testing.T) {
	pg := newOwnPostgres(t)
	cfg := replicaConfig(t, filepath.Join(t.TempDir(), "data"))
	cfg.DatabaseURL = pg.DSN
	ts := startReplica(t, cfg).ts()
	id, secret := ts.createClient(map[string]any{"name": "Steady", "scope_ids": []string{"trade:read"}, "rate_limit_per_minute": 1000})
	ts.token(id, secret, nil) // the client and its secrets are now cached
	jwksBefore := string(ts.do("GET", "/.well-known/jwks.json", nil, nil).Body)

	// Bounded load: 2 workers, one request each per 10ms, until stopped.
	var (
		stop             atomic.Bool
		wg               sync.WaitGroup
		mu               sync.Mutex
		outcomes         = map[string]int{}
		outageOK, outage atomic.Int64
		down             atomic.Bool
	)
	client := &http.Client{Timeout: 5 * time.Second}
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				res, err := client.Post(ts.URL+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(body))
				key := "transport error"
				if err == nil {
					var e struct{ Error string }
					decodeJSON(res, &e)
					key = strconv.Itoa(res.StatusCode) + " " + e.Error
					if down.Load() {
						outage.Add(1)
						if res.StatusCode == 200 {
							outageOK.Add(1)
						}
					}
				}
				mu.Lock()
				outcomes[key]++
				mu.Unlock()
				time.Sleep(10 * time.Millisecond) // pacing of the load, not a wait
			}
		})
	}
	ready := func() int { return ts.do("GET", "/readyz", nil, nil).Status }

	served := func() int {
		mu.Lock()
		defer mu.Unlock()
		return outcomes["200 "]
	}
	waitUntil(t, 15*time.Second, "tokens issued before the outage", func() bool { return served() >= 10 })
	pg.stop()
	down.Store(true)
	waitUntil(t, 15*time.Second, "readiness false with PostgreSQL down", func() bool { return ready() == 503 })
	// Serve from the cache for a while: some tokens during the outage.
	waitUntil(t, 15*time.Second, "tokens issued from the cache during the outage", func() bool { return outageOK.Load() >= 10 })
	down.Store(false)
	pg.start()
	took := waitUntil(t, 30*time.Second, "readiness recovers", func() bool { return ready() == 200 })
	t.Logf("ready again %v after PostgreSQL restarted", took)
	after := served()
	waitUntil(t, 15*time.Second, "tokens issued after the recovery", func() bool { return served() >= after+10 })
	stop.Store(true)
	wg.Wait()

	t.Logf("outcomes: %v; during the outage %d of %d token requests succeeded", outcomes, outageOK.Load(), outage.Load())
	for k, n := range outcomes {
		if k != "200 " && k != "503 "+wire.ErrTemporarilyUnavailable {
			t.Errorf("%d requests ended with %q; want only 200 or 503 %s", n, k, wire.ErrTemporarilyUnavailable)
		}
	}
	if outageOK.Load() == 0 {
		t.Error("no token was issued from the cache while PostgreSQL was down")
	}
	// Nothing lost or corrupt: writes work, the key set is the same, and
	// the client still authenticates.
	id2, secret2 := ts.createClient(map[string]any{"name": "After", "scope_ids": []string{"trade:read"}})
	ts.token(id2, secret2, nil)
	ts.token(id, secret, nil)
	if got := string(ts.do("GET", "/.well-known/jwks.json", nil, nil).Body); got != jwksBefore {
		t.Errorf("JWKS changed across the outage:\n%s\n%s", jwksBefore, got)
	}
	// The change feed came back too: a client disabled through another
	// replica is refused here. The listener reconnects with a backoff of
	// at most 5s and then drops every cached entry.
	cfgB := replicaConfig(t, cfg.DataDir)
	cfgB.DatabaseURL, cfgB.Issuer = pg.DSN, cfg.Issuer
	b := startReplica(t, cfgB).ts()
	if r := b.jsonReq("PUT", "/api/v1/service-clients/"+id, b.adminToken(), map[string]any{"is_active": false}); r.Status != 200 {
		t.Fatalf("disable through B: %d %s", r.Status, r.Body)
	}
	// The bound is a deadline, not the expectation: on a loaded machine the
	// reconnect may take longer than its backoff.
	took = waitUntil(t, 30*time.Second, "A refuses a client disabled on B after the outage", func() bool {
		return ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret).Status == 401
	})
	t.Logf("invalidation after the outage took %v", took)
}

func decodeJSON(res *http.Response, v any) {
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(v)
}
