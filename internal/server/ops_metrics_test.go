package server_test

import (
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestMetricsAfterWorkload runs a scripted workload and checks that the
// scrape shows exactly what happened.
func TestMetricsAfterWorkload(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "Metered", "client_id": "metered", "scope_ids": []string{"trade:read"}})

	var toks []string
	for range 3 {
		toks = append(toks, ts.token(id, secret, nil))
	}
	cc := url.Values{"grant_type": {"client_credentials"}}
	for range 2 {
		if r := ts.form("/oauth2/token", cc, id, "pms_wrong"); r.Status != 401 {
			t.Fatalf("wrong secret: %d", r.Status)
		}
	}
	if r := ts.form("/oauth2/token", cc, "nobody", "pms_x"); r.Status != 401 {
		t.Fatalf("unknown client: %d", r.Status)
	}
	for _, tok := range []string{toks[0], "garbage"} {
		if r := ts.form("/oauth2/introspect", url.Values{"token": {tok}}, id, secret); r.Status != 200 {
			t.Fatalf("introspect: %d %s", r.Status, r.Body)
		}
	}
	if r := ts.form("/oauth2/revoke", url.Values{"token": {toks[1]}}, id, secret); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/no/such/path/12345", "/api/v1/service-clients/secret-id-777"} {
		ts.do("GET", p, nil, nil)
	}

	m := scrape(t, ts.URL+"/metrics")
	want := map[string]float64{
		`auth_requests_total{client_id="metered",grant_type="client_credentials",status="success"}`:       3,
		`auth_requests_total{client_id="permiso-admin",grant_type="client_credentials",status="success"}`: 1,
		`failed_login_attempts_total{reason="wrong_secret"}`:                                              2,
		`failed_login_attempts_total{reason="unknown_client"}`:                                            1,
		`permiso_token_introspections_total{active="true"}`:                                               1,
		`permiso_token_introspections_total{active="false"}`:                                              1,
		`permiso_token_revocations_total`:                                                                 1,
		`http_requests_total{method="POST",route="POST /oauth2/token",status="200"}`:                      4,
		`http_requests_total{method="POST",route="POST /oauth2/token",status="401"}`:                      3,
		`http_request_duration_seconds_count{method="POST",route="POST /oauth2/token"}`:                   7,
		`http_requests_total{method="GET",route="unmatched",status="404"}`:                                1,
		`http_requests_total{method="GET",route="GET /api/v1/service-clients/{client_id}",status="401"}`:  1,
		`permiso_signing_keys{state="active"}`:                                                            1,
		`permiso_signing_keys{state="next"}`:                                                              0,
		`permiso_ready`:                                                                                   1,
		`permiso_db_pool_max_open_connections`:                                                            8,
		`permiso_audit_events_dropped_total`:                                                              0,
	}
	for series, v := range want {
		got, ok := m[series]
		if !ok {
			t.Errorf("missing series %s", series)
		} else if got != v {
			t.Errorf("%s = %v, want %v", series, got, v)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "permiso_cache_hit_ratio",
		"permiso_signing_key_age_seconds", `permiso_build_info{database="sqlite",version="test"}`, "permiso_ratelimit_memory_keys"} {
		if _, ok := m[name]; !ok {
			t.Errorf("missing series %s", name)
		}
	}
	if r := m["permiso_cache_hit_ratio"]; r <= 0 || r > 1 {
		t.Errorf("cache hit ratio %v, want in (0, 1] after repeated token requests", r)
	}
	for series := range m {
		if strings.Contains(series, "12345") || strings.Contains(series, "secret-id-777") || strings.Contains(series, toks[0][:20]) {
			t.Errorf("raw path or token in a label: %s", series)
		}
	}
}

// TestMetricsListener serves /metrics on its own address only, and
// closes that address when the server stops.
func TestMetricsListener(t *testing.T) {
	metricsAddr := freeAddr(t)
	r := startReplica(t, func() server.Config {
		c := replicaConfig(t, filepath.Join(t.TempDir(), "data"))
		c.MetricsAddr = metricsAddr
		return c
	}())
	ts := r.ts()
	if got := ts.do("GET", "/metrics", nil, nil); got.Status != 404 {
		t.Fatalf("main listener /metrics: %d, want 404 when --metrics-addr is set", got.Status)
	}
	ts.token(ts.AdminID, ts.Secret, nil)
	m := scrape(t, "http://"+metricsAddr+"/metrics")
	if got := m[`http_requests_total{method="POST",route="POST /oauth2/token",status="200"}`]; got != 1 {
		t.Fatalf("token requests on the metrics listener: %v, want 1", got)
	}
	r.stop()
	if c, err := net.DialTimeout("tcp", metricsAddr, time.Second); err == nil {
		c.Close()
		t.Fatal("metrics listener still open after the server stopped")
	}
}

// TestMetricsListenerBusy fails the start instead of running without metrics.
func TestMetricsListenerBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := replicaConfig(t, filepath.Join(t.TempDir(), "data"))
	cfg.MetricsAddr = ln.Addr().String()
	srv, err := server.New(t.Context(), cfg)
	if err == nil {
		srv.Close()
		t.Fatal("server.New succeeded with the metrics address in use")
	}
	if !strings.Contains(err.Error(), "metrics listener") {
		t.Fatalf("error %q does not name the metrics listener", err)
	}
	if _, err := http.Get("http://" + cfg.Addr + "/healthz"); err == nil {
		t.Fatal("main listener is up after a failed start")
	}
}
