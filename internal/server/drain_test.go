package server_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// During the drain delay the server still answers, but readiness says no,
// so a load balancer stops sending before the listener closes. The delay
// is long enough that polling finds the window on a loaded machine; the
// test then waits for the server to stop on its own.
func TestDrainDelayKeepsServingWhileNotReady(t *testing.T) {
	addr := freeAddr(t)
	srv, err := server.New(context.Background(), server.Config{DataDir: filepath.Join(t.TempDir(), "d"), Addr: addr,
		Issuer: "http://" + addr, DrainDelay: 5 * time.Second, ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func(a string) { ready <- a }) }()
	<-ready
	get := func(path string) int {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get("/readyz"); got != 200 {
		t.Fatalf("readyz before SIGTERM: %d", got)
	}
	cancel()
	// Poll until readiness turns; an answer at all (not 0) proves the
	// server still serves.
	var got int
	waitUntil(t, 10*time.Second, "readiness false after the stop", func() bool { got = get("/readyz"); return got != 200 })
	if got != 503 {
		t.Fatalf("readyz while draining: %d, want 503 (0: the listener closed without a drain window)", got)
	}
	if got := get("/healthz"); got != 200 {
		t.Errorf("healthz while draining: %d, want 200 (still serving)", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop")
	}
	if got := get("/healthz"); got != 0 {
		t.Errorf("still answering after stop: %d", got)
	}
}
