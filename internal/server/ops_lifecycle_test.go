package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
)

// buildPermiso builds the real binary once per test.
func buildPermiso(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "permiso")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/permiso")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// slowTokenRequest sends a token request that is in flight when the server
// is told to stop. It asks for 100-continue, so its body starts only once
// the server's handler reads it: then inFlight is closed, and the rest of
// the body trickles in over about a second once release is closed.
func slowTokenRequest(base, id, secret string, inFlight chan<- struct{}, release <-chan struct{}) (int, error) {
	pr, pw := io.Pipe()
	go func() {
		for i, c := range "grant_type=client_credentials" {
			if _, err := pw.Write([]byte(string(c))); err != nil {
				break
			}
			if i == 0 {
				close(inFlight)
				<-release
			}
			time.Sleep(40 * time.Millisecond) // the trickle, not a wait
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", base+"/oauth2/token", pr)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Expect", "100-continue")
	req.SetBasicAuth(id, secret)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{ExpectContinueTimeout: 15 * time.Second}}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// TestSIGTERMDrains runs `permiso serve`, sends SIGTERM while token
// requests (one of them slow) are in flight, and checks that none of them
// fails, the process exits 0 within the shutdown timeout, and every issued
// token's audit event was written.
func TestSIGTERMDrains(t *testing.T) {
	bin := buildPermiso(t)
	dataDir, addr := filepath.Join(t.TempDir(), "data"), freeAddr(t)
	var stderr bytes.Buffer
	// No drain delay (TestDrain covers it): the listener closes while the
	// slow requests are still being read, and they must complete anyway.
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", addr, "--shutdown-timeout", "10s", "--drain-delay", "0s", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	base := "http://" + addr
	waitUntil(t, 15*time.Second, "permiso serve answers /healthz", func() bool {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil && res.StatusCode == 200
	})
	ts := (&replica{t: t, URL: base, cfg: replicaConfig(t, dataDir)}).ts()
	id, secret := ts.createClient(map[string]any{"name": "Drained", "scope_ids": []string{"trade:read"}, "rate_limit_per_minute": 1_000_000, "rate_limit_per_hour": 60_000_000})

	var (
		issued   atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
		termSent atomic.Bool
	)
	fail := func(s string) { mu.Lock(); failures = append(failures, s); mu.Unlock() }
	// No keep-alive: an idle pooled connection closed by the drain would
	// be a client artefact, not a dropped request.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
	// The workers stand for a load balancer: once the replica is told to
	// stop (readiness false; in Kubernetes, a preStop sleep while the
	// endpoint is removed) no new request is sent to it, and every request
	// already sent must complete.
	for range 8 {
		wg.Go(func() {
			for !termSent.Load() {
				res, err := client.Post(base+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					fail(err.Error())
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					fail(res.Status)
					return
				}
				issued.Add(1)
			}
		})
	}
	// Let the load run, then the balancer stops sending: the workers
	// finish the requests they sent and stop.
	waitUntil(t, 15*time.Second, "tokens issued under load", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return issued.Load() >= 20 || len(failures) > 0
	})
	const slowRequests = 3
	slow := make(chan error, slowRequests)
	var accepted []chan struct{}
	release := make(chan struct{})
	for range slowRequests {
		inFlight := make(chan struct{})
		accepted = append(accepted, inFlight)
		go func() {
			status, err := slowTokenRequest(base, id, secret, inFlight, release)
			if err == nil && status != 200 {
				err = errors.New("slow request: " + http.StatusText(status))
			}
			slow <- err
		}()
	}
	termSent.Store(true)
	wg.Wait()
	// The signal comes while the slow requests are being read.
	for _, inFlight := range accepted {
		select {
		case <-inFlight:
		case err := <-slow:
			t.Fatalf("a slow request ended before the signal: %v", err)
		case <-time.After(15 * time.Second):
			t.Fatal("the slow requests were not accepted")
		}
	}
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	close(release)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("permiso exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		// Past the 10s shutdown timeout the slow requests would have been
		// cut and reported below; this only bounds a hung process.
		t.Fatalf("permiso still running 60s after SIGTERM\n%s", stderr.String())
	}
	t.Logf("exited %v after SIGTERM", time.Since(sent).Round(time.Millisecond))
	for range slowRequests {
		if err := <-slow; err != nil {
			t.Errorf("an in-flight slow request failed: %v", err)
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d requests failed during the drain: %v", len(failures), failures)
	}
	issued.Add(slowRequests)
	t.Logf("%d tokens issued", issued.Load())

	// The queued audit events were written before exit.
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(dataDir, "permiso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	db := root.Tenant(store.DefaultTenant)
	var audited int64
	for off := 0; ; off += 1000 {
		events, _, err := db.ListAuditEvents(ctx, store.AuditFilter{Type: "token.issued", ActorID: id, Page: store.Page{Offset: off, Limit: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events {
			n := int64(1) // aggregated events carry a count
			if c, ok := e.Details["count"].(float64); ok {
				n = int64(c)
			}
			audited += n
		}
		if len(events) < 1000 {
			break
		}
	}
	if audited != issued.Load() {
		t.Errorf("audit holds %d issued tokens, want %d: events were lost in the drain", audited, issued.Load())
	}
}
