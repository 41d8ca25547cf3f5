package server_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// replica is a server whose lifecycle the test controls, unlike
// newTestServer's, which lives until the test ends.
type replica struct {
	t      *testing.T
	URL    string
	cfg    server.Config
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// testMasterKey is shared by replicas of one database, so every replica
// decrypts the signing keys and peppers client secrets alike.
const testMasterKey = "ops-test-master-key-0123456789abcdef"

// replicaConfig is newTestServer's configuration for a fresh address.
func replicaConfig(t *testing.T, dataDir string) server.Config {
	addr := freeAddr(t)
	return server.Config{
		DataDir: dataDir, Addr: addr, Issuer: "http://" + addr,
		Environment: "test", Version: "test", SigningAlg: "ES256", MasterKey: testMasterKey,
		// Argon2id under -race on a loaded machine can outlast seconds: a
		// write timeout would close the connection (EOF), not test anything.
		// net/http's Shutdown waits up to 5 s for a connection that was
		// opened but has sent no request yet (a client's spare dial): a 5 s
		// shutdown timeout raced it.
		ShutdownTimeout: 15 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 2 * time.Minute,
		IdleTimeout: 30 * time.Second,
	}
}

// startReplica runs cfg until stop or the end of the test.
func startReplica(t *testing.T, cfg server.Config) *replica {
	t.Helper()
	r, err := launchReplica(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// launchReplica is startReplica for use from other goroutines: it returns
// the error instead of failing the test.
func launchReplica(t *testing.T, cfg server.Config) (*replica, error) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("server.New: %w", err)
	}
	r := &replica{t: t, URL: "http://" + cfg.Addr, cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { r.done <- srv.Run(ctx, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-r.done:
		cancel()
		return nil, fmt.Errorf("server stopped: %w", err)
	case <-time.After(15 * time.Second):
		cancel()
		return nil, errors.New("server did not start within 15s")
	}
	t.Cleanup(func() { r.stop() })
	return r, nil
}

// stop drains the replica and waits for Run to return.
func (r *replica) stop() {
	r.once.Do(func() {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("server.Run: %v", err)
		}
	})
}

// ts returns the test-helper view of the replica, with the bootstrap
// credentials from its data directory.
func (r *replica) ts() *testServer {
	r.t.Helper()
	ts := &testServer{URL: r.URL, DataDir: r.cfg.DataDir, t: r.t}
	b, err := os.ReadFile(filepath.Join(r.cfg.DataDir, server.BootstrapFile))
	if err != nil {
		r.t.Fatal(err)
	}
	var creds struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		r.t.Fatal(err)
	}
	ts.AdminID, ts.Secret = creds.ID, creds.Secret
	return ts
}

// scrape reads a Prometheus text exposition into series -> value, where a
// series is written as in the exposition: name{label="v",...} with labels
// in the order the registry writes them (sorted by name).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad exposition line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// uniquePrefix keeps Redis keys of different tests and runs apart.
func uniquePrefix() string {
	var b [6]byte
	rand.Read(b[:])
	return "permiso-test:" + hex.EncodeToString(b[:]) + ":"
}

// waitUntil polls cond every 10ms for up to limit and returns how long it took.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
