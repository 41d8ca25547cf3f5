package server_test

import (
	"net/http"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
)

// --pprof-addr serves Go's profiler on its own listener, and only there.
func TestProfilerOnItsOwnListener(t *testing.T) {
	addr := freeAddr(t)
	ts := newTestServer(t, func(c *server.Config) { c.PprofAddr = addr })
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("profiler index: %d", res.StatusCode)
	}
	if r := ts.do("GET", "/debug/pprof/", nil, nil); r.Status != 404 {
		t.Fatalf("profiler on the main listener: %d", r.Status)
	}
}
