package server_test

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestDrainOrder checks the order of a graceful stop on the server's own
// listener, with the drain delay's timer in the test's hand: once the stop
// begins, /readyz answers 503 while every other request is still served
// and new connections are accepted; only when the delay ends does the
// listener close. No step depends on how fast the machine is.
func TestDrainOrder(t *testing.T) {
	addr := freeAddr(t)
	const delay = 7 * time.Second
	asked := make(chan time.Duration, 1)
	fire := make(chan time.Time)
	srv, err := server.New(context.Background(), server.Config{DataDir: filepath.Join(t.TempDir(), "d"), Addr: addr,
		Issuer: "http://" + addr, DrainDelay: delay, ShutdownTimeout: 10 * time.Second,
		After: func(d time.Duration) <-chan time.Time { asked <- d; return fire }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(a string) { ready <- a }) }()
	<-ready
	t.Cleanup(func() {
		select {
		case fire <- time.Time{}:
		default:
		}
	})
	base := "http://" + addr
	if got := getStatus(base + "/readyz"); got != 200 {
		t.Fatalf("/readyz before the stop: %d", got)
	}
	// A connection the load balancer opened before the stop.
	pooled := &http.Client{Timeout: 10 * time.Second}
	if res, err := pooled.Get(base + "/healthz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz before the stop: %v", err)
	} else {
		res.Body.Close()
	}

	cancel()
	select {
	case d := <-asked:
		if d != delay {
			t.Fatalf("the drain waits %v, want the configured %v", d, delay)
		}
	case err := <-done:
		t.Fatalf("Run returned without a drain delay: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the drain delay never started")
	}
	// Readiness turned false before the delay began, and everything else
	// is served, on new connections and on the pooled one.
	for range 10 {
		if got := getStatus(base + "/readyz"); got != 503 {
			t.Fatalf("/readyz during the drain delay: %d, want 503 (0: refused)", got)
		}
		for _, path := range []string{"/healthz", "/.well-known/jwks.json"} {
			if got := getStatus(base + path); got != 200 {
				t.Fatalf("%s during the drain delay: %d, want 200 (0: refused)", path, got)
			}
		}
		res, err := pooled.Get(base + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatalf("the pooled connection during the drain delay: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("metadata on the pooled connection during the drain delay: %d", res.StatusCode)
		}
	}

	fire <- time.Now()
	waitUntil(t, 30*time.Second, "the listener closes once the delay ends", func() bool {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop after the drain")
	}
}
