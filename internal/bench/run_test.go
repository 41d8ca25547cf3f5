package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func quickConfig() Config {
	return Config{Connections: 2, Warmup: 50 * time.Millisecond, Duration: 150 * time.Millisecond, Reference: true}
}

func TestRunAgainstTarget(t *testing.T) {
	f, err := newFakePermiso()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := quickConfig()
	cfg.Target = srv.URL
	cfg.AdminClientID, cfg.AdminClientSecret = fakeAdminID, fakeAdminSecret
	cfg.Scenarios = []string{ScenarioCCBasic, ScenarioIntrospect, ScenarioPassword, ScenarioRefresh}
	cfg.Warmup, cfg.Duration, cfg.Rounds = 20*time.Millisecond, 400*time.Millisecond, 5 // two 200ms slices a side
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]ScenarioResult{}
	for _, s := range rep.Scenarios {
		status[s.Name] = s
	}
	for _, name := range []string{ScenarioCCBasic, ScenarioIntrospect} {
		s := status[name]
		if s.Status != StatusOK || s.Permiso == nil || s.Permiso.OK == 0 || s.Permiso.ErrorCount != 0 {
			t.Errorf("%s: %+v %+v", name, s, s.Permiso)
		}
	}
	// The fake has no user endpoints: those scenarios are unavailable.
	for _, name := range []string{ScenarioPassword, ScenarioRefresh} {
		if s := status[name]; s.Status != StatusUnavailable || !strings.Contains(s.Reason, "404") {
			t.Errorf("%s: status %q reason %q, want unavailable after a 404", name, s.Status, s.Reason)
		}
	}
	cc := status[ScenarioCCBasic]
	if cc.Reference == nil || cc.Reference.OK == 0 || cc.Ratio == nil || *cc.Ratio <= 0 {
		t.Errorf("cc-basic has no reference run or ratio: %+v", cc)
	}
	if in := status[ScenarioIntrospect]; cc.Permiso.Seconds != 0.4 || cc.Reference.Seconds != 0.4 || in.Permiso.Seconds != 0.4 {
		t.Errorf("measured %v / %v / %v seconds, want 0.4 each", cc.Permiso.Seconds, cc.Reference.Seconds, in.Permiso.Seconds)
	}
	if status[ScenarioIntrospect].Reference != nil {
		t.Error("introspect ran against the reference")
	}
	if rep.ServerStarted || rep.Server != nil || cc.Permiso.ServerCPUSecondsPer1K != nil {
		t.Error("server stats for a server the benchmark did not start")
	}
}

func TestRunUserScenarios(t *testing.T) {
	f, err := newFakePermiso()
	if err != nil {
		t.Fatal(err)
	}
	f.users, f.refresh = map[string]string{}, map[string]bool{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cfg := quickConfig()
	cfg.Target, cfg.Connections = srv.URL, 4
	cfg.AdminClientID, cfg.AdminClientSecret = fakeAdminID, fakeAdminSecret
	cfg.Scenarios = []string{ScenarioPassword, ScenarioRefresh}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range rep.Scenarios {
		if s.Status != StatusOK || s.Permiso.OK == 0 || s.Permiso.ErrorCount != 0 {
			t.Errorf("%s: %+v %+v", s.Name, s, s.Permiso)
		}
	}
	// Every refresh spent the token the previous answer gave: none was
	// presented twice, and each connection holds one live token at the end.
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reused != 0 {
		t.Errorf("%d refresh tokens reused", f.reused)
	}
	if len(f.refresh) < cfg.Connections {
		t.Errorf("%d live refresh tokens, want one per connection at least", len(f.refresh))
	}
}

func TestRunStartsServer(t *testing.T) {
	t.Setenv("BENCH_FAKE_SERVE", "1") // the child plays the server (TestMain)
	cfg := quickConfig()
	cfg.ServerBinary = os.Args[0]
	cfg.Duration = 300 * time.Millisecond
	cfg.Reference = false
	cfg.Scenarios = []string{ScenarioCCPost, ScenarioJWKS, ScenarioMetadata}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.ServerStarted || rep.Server == nil || rep.Server.StartupMS <= 0 || rep.Server.PeakRSSBytes <= 0 {
		t.Fatalf("server stats: %+v", rep.Server)
	}
	for _, s := range rep.Scenarios {
		if s.Status != StatusOK || s.Permiso.OK == 0 {
			t.Errorf("%s: %+v", s.Name, s)
			continue
		}
		if s.Permiso.ServerCPUSecondsPer1K == nil || s.Permiso.ServerPeakRSSBytes <= 0 {
			t.Errorf("%s: no server CPU or RSS: %+v", s.Name, s.Permiso)
		}
	}
	// The server is gone and its data directory removed.
	if err := findProcess(rep.Server.PID); err == nil {
		t.Errorf("server %d still runs", rep.Server.PID)
	}
}

func findProcess(pid int) error {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid) + "/stat")
	return err
}

func TestRunReportsServerThatDoesNotStart(t *testing.T) {
	t.Setenv("BENCH_FAKE_SERVE", "1")
	cfg := quickConfig()
	cfg.ServerBinary = os.Args[0]
	cfg.ServerArgs = []string{"--fail"}
	_, err := Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "failing as asked") {
		t.Fatalf("err = %v, want the server's log in the error", err)
	}
}

func TestRunRefusesRemoteTarget(t *testing.T) {
	cfg := quickConfig()
	cfg.Target = "http://example.com"
	cfg.Lookup = fakeLookup
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrNotLoopback) {
		t.Fatalf("err = %v, want ErrNotLoopback", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{Connections: 0, Duration: 6 * time.Minute, Warmup: -time.Second, Scenarios: []string{"nope"}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"connections", "duration", "warm-up", "no target", `"nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	if got := ParseScenarios("all"); len(got) != len(ScenarioNames()) {
		t.Errorf("all = %v", got)
	}
	if got := strings.Join(ParseScenarios(" cc-basic,jwks,cc-basic,"), ","); got != "cc-basic,jwks" {
		t.Errorf("list = %s", got)
	}
	if got := strings.Join(ParseScenarios("cc-basic jwks, cc-post"), ","); got != "cc-basic,jwks,cc-post" {
		t.Errorf("spaces and commas = %s", got)
	}
}

func TestReportShape(t *testing.T) {
	var lr LoadResult
	lr.Errors = map[string]uint64{"http_500": 2}
	lr.OK, lr.Requests, lr.Window = 1000, 1002, time.Second
	for range 1000 {
		lr.Latency.Record(2 * time.Millisecond)
	}
	m := newMeasurement(&lr)
	cpu, ratio := 0.25, 0.8
	m.ServerCPUSecondsPer1K = &cpu
	rep := &Report{Target: "http://127.0.0.1:1", Connections: 32, DurationSeconds: 1, CPUs: 2,
		ServerStarted: true, Server: &ServerStats{PID: 1, StartupMS: 120, PeakRSSBytes: 40 << 20},
		Scenarios: []ScenarioResult{
			{Name: "cc-basic", Status: StatusOK, Permiso: m, Reference: newMeasurement(&lr), Ratio: &ratio},
			{Name: "password", Status: StatusUnavailable, Reason: "register user: HTTP 404"},
		}}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Connections int `json:"connections"`
		Server      struct {
			StartupMS    float64 `json:"startup_ms"`
			PeakRSSBytes int64   `json:"peak_rss_bytes"`
		} `json:"server"`
		Scenarios []struct {
			Name    string   `json:"name"`
			Status  string   `json:"status"`
			Reason  string   `json:"reason"`
			Ratio   *float64 `json:"ratio"`
			Permiso *struct {
				Requests    uint64             `json:"requests"`
				OKPerSecond float64            `json:"ok_per_second"`
				Errors      map[string]uint64  `json:"errors"`
				LatencyMS   map[string]float64 `json:"latency_ms"`
				CPU         *float64           `json:"server_cpu_seconds_per_1k"`
			} `json:"permiso"`
		} `json:"scenarios"`
	}
	dec := json.NewDecoder(&buf)
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Connections != 32 || got.Server.StartupMS != 120 || got.Server.PeakRSSBytes != 40<<20 || len(got.Scenarios) != 2 {
		t.Fatalf("report: %+v", got)
	}
	cc, pw := got.Scenarios[0], got.Scenarios[1]
	if cc.Permiso == nil || cc.Permiso.Requests != 1002 || cc.Permiso.OKPerSecond != 1000 ||
		cc.Permiso.Errors["http_500"] != 2 || cc.Permiso.CPU == nil || *cc.Ratio != 0.8 {
		t.Errorf("cc-basic: %+v", cc.Permiso)
	}
	if p50 := cc.Permiso.LatencyMS["p50"]; p50 < 1.98 || p50 > 2.02 {
		t.Errorf("p50 = %v ms", p50)
	}
	for _, k := range []string{"p50", "p90", "p99", "max", "mean"} {
		if _, ok := cc.Permiso.LatencyMS[k]; !ok {
			t.Errorf("latency_ms has no %s", k)
		}
	}
	if pw.Status != "unavailable" || pw.Permiso != nil || pw.Ratio != nil || pw.Reason == "" {
		t.Errorf("password: %+v", pw)
	}

	buf.Reset()
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{"SCENARIO", "OK/S", "P99", "RATIO", "cc-basic    permiso", "reference", "0.80",
		"http_500=2", "unavailable", "ready in 120.0 ms", "40.0MiB"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	// Columns line up: the header's P99 and every row's p99 end at the same offset.
	lines := strings.Split(text, "\n")
	var hdr string
	for _, l := range lines {
		if strings.HasPrefix(l, "SCENARIO") {
			hdr = l
		}
	}
	end := strings.Index(hdr, "P99") + 3
	for _, l := range lines {
		if strings.HasPrefix(l, "cc-basic") && l[end-6:end] != "2.00ms" {
			t.Errorf("misaligned row %q (want p99 ending at %d)", l, end)
		}
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("4242 (permiso (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 0 0\n")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("cpu = %v, %v; want 3.25s", cpu, err)
	}
	if _, err := parseStatCPU([]byte("1 (x) S 1")); err == nil {
		t.Error("short stat accepted")
	}
	status := []byte("Name:\tpermiso\nVmPeak:\t  900000 kB\nVmHWM:\t   30720 kB\nVmRSS:\t 20000 kB\n")
	if rss, err := parseStatusKB(status, "VmHWM:"); err != nil || rss != 30<<20 {
		t.Errorf("VmHWM = %d, %v", rss, err)
	}
	if _, err := parseStatusKB([]byte("Name: x\n"), "VmHWM:"); err == nil {
		t.Error("missing VmHWM accepted")
	}
	// Our own process is readable.
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	if rss, err := processPeakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("own peak RSS %d, %v", rss, err)
	}
}
