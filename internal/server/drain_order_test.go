package server_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// startServe runs `permiso serve` with args and waits until it is ready.
func startServe(t *testing.T, bin string, args ...string) (cmd *exec.Cmd, base string, exited chan error) {
	t.Helper()
	addr := freeAddr(t)
	cmd = exec.Command(bin, append([]string{"serve", "--data-dir", filepath.Join(t.TempDir(), "data"), "--addr", addr,
		"--log-level", "warn"}, args...)...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	base = "http://" + addr
	waitUntil(t, 20*time.Second, "permiso serve is ready", func() bool { return getStatus(base+"/readyz") == 200 })
	return cmd, base, exited
}

// getStatus GETs url on a new connection and returns the status, or 0 when
// the connection is refused.
func getStatus(url string) int {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDrain runs the built binary. With the default settings, after
// SIGTERM /readyz answers "not ready" while the server still serves, and
// only then does the listener close: a load balancer that follows
// readiness stops sending before any connection is refused. A second
// Ctrl-C during the drain ends the process at once.
func TestDrain(t *testing.T) {
	bin := buildPermiso(t)

	t.Run("readiness turns false before the listener closes", func(t *testing.T) {
		cmd, base, exited := startServe(t, bin) // the default --drain-delay
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var seen []int // the distinct /readyz outcomes in order
		served := 0    // other requests answered while not ready
		for len(seen) == 0 || seen[len(seen)-1] != 0 {
			st := getStatus(base + "/readyz")
			if len(seen) == 0 || seen[len(seen)-1] != st {
				seen = append(seen, st)
			}
			if st == 503 && getStatus(base+"/healthz") == 200 {
				served++
			}
			if len(seen) > 3 {
				break
			}
		}
		// 200 may still be seen before the signal lands.
		if seen[0] == 200 {
			seen = seen[1:]
		}
		if len(seen) != 2 || seen[0] != 503 || seen[1] != 0 {
			t.Fatalf("/readyz after SIGTERM went %v (0: refused), want 503 then refused", seen)
		}
		if served == 0 {
			t.Fatal("nothing was served while readiness was false")
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("exit: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("permiso did not exit after the drain")
		}
	})

	t.Run("a second Ctrl-C exits at once", func(t *testing.T) {
		cmd, base, exited := startServe(t, bin, "--drain-delay", "5m")
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "draining after the first Ctrl-C", func() bool { return getStatus(base+"/readyz") == 503 })
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Fatalf("exit after the second Ctrl-C: %v, want exit status 130 at once", err)
			}
		case <-time.After(30 * time.Second): // far less than the 5m drain
			t.Fatal("a second Ctrl-C did not end the process")
		}
	})
}
