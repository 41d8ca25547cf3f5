package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Scenario statuses.
const (
	StatusOK          = "ok"
	StatusUnavailable = "unavailable" // the server does not offer it (yet)
	StatusFailed      = "failed"      // setup or the run went wrong
)

// Report is the result of a run; its JSON form is the machine-readable
// report (`--json`).
type Report struct {
	StartedAt       time.Time        `json:"started_at"`
	Target          string           `json:"target"`
	ServerStarted   bool             `json:"server_started"`
	Connections     int              `json:"connections"`
	DurationSeconds float64          `json:"duration_seconds"`
	WarmupSeconds   float64          `json:"warmup_seconds"`
	CPUs            int              `json:"cpus"`
	GoVersion       string           `json:"go_version"`
	OS              string           `json:"os"`
	Server          *ServerStats     `json:"server,omitempty"`
	Scenarios       []ScenarioResult `json:"scenarios"`
}

// ServerStats describes a server the benchmark started itself.
type ServerStats struct {
	PID int `json:"pid"`
	// StartupMS is the time from exec to the first 200 from /healthz, on
	// an empty data directory (so it includes migrations, key generation
	// and the bootstrap client).
	StartupMS float64 `json:"startup_ms"`
	// PeakRSSBytes is the server's VmHWM at the end of the run.
	PeakRSSBytes int64    `json:"peak_rss_bytes"`
	Args         []string `json:"args,omitempty"`
}

// ScenarioResult is one scenario's outcome.
type ScenarioResult struct {
	Name      string       `json:"name"`
	Status    string       `json:"status"`
	Reason    string       `json:"reason,omitempty"`
	Permiso   *Measurement `json:"permiso,omitempty"`
	Reference *Measurement `json:"reference,omitempty"`
	// Ratio is Permiso's successful requests/s over the reference's.
	Ratio *float64 `json:"ratio,omitempty"`
	// Labels name the two measurements of a scale scenario (which then
	// compares two loads of Permiso, not Permiso and the reference); the
	// ratio is the first's over the second's.
	Labels *[2]string `json:"labels,omitempty"`
	// Figures are a scale scenario's other results, by name.
	Figures map[string]float64 `json:"figures,omitempty"`
}

// Measurement is one load run against one target. Requests counts what
// completed in the measured window, successful or not; latency covers the
// successful ones.
type Measurement struct {
	// Seconds is the measured time (the sum of the slices' windows).
	Seconds           float64           `json:"seconds"`
	Requests          uint64            `json:"requests"`
	OK                uint64            `json:"ok"`
	ErrorCount        uint64            `json:"error_count"`
	Errors            map[string]uint64 `json:"errors"`
	RequestsPerSecond float64           `json:"requests_per_second"`
	OKPerSecond       float64           `json:"ok_per_second"`
	LatencyMS         Latency           `json:"latency_ms"`
	// ServerCPUSecondsPer1K is the server's user+system CPU time per 1,000
	// successful requests; only for a server the benchmark started.
	ServerCPUSecondsPer1K *float64 `json:"server_cpu_seconds_per_1k,omitempty"`
	// ServerCPUCores is the server's average CPU use over the window.
	ServerCPUCores *float64 `json:"server_cpu_cores,omitempty"`
	// BenchCPUCores is the benchmark process's own average CPU use over
	// the window: the load generator, plus the handler in a reference run.
	BenchCPUCores *float64 `json:"bench_cpu_cores,omitempty"`
	// ServerPeakRSSBytes is the server's VmHWM right after this run.
	ServerPeakRSSBytes int64 `json:"server_peak_rss_bytes,omitempty"`
	Interrupted        bool  `json:"interrupted,omitempty"`
}

// Latency percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func newMeasurement(lr *LoadResult) *Measurement {
	h := &lr.Latency
	return &Measurement{
		Seconds: lr.Window.Seconds(), Requests: lr.Requests, OK: lr.OK, ErrorCount: lr.ErrorCount(), Errors: lr.Errors,
		RequestsPerSecond: lr.RequestsPerSecond(), OKPerSecond: lr.OKPerSecond(),
		LatencyMS: Latency{P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P99: ms(h.Quantile(0.99)),
			Max: ms(h.Max()), Mean: ms(h.Mean())},
		Interrupted: lr.Interrupted,
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}

// WriteText writes the report as an aligned table with a short header.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "permiso bench: %s, %d connections, %s measured after %s warm-up, %d CPUs, %s %s\n",
		r.Target, r.Connections, secs(r.DurationSeconds), secs(r.WarmupSeconds), r.CPUs, r.GoVersion, r.OS)
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, "server started by the benchmark (pid %d): ready in %.1f ms, peak RSS %s",
			s.PID, s.StartupMS, mib(s.PeakRSSBytes))
		if len(s.Args) > 0 {
			fmt.Fprintf(&b, ", args %s", strings.Join(s.Args, " "))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	const row = "%-11s %-9s %-11s %10s %10s %8s %8s %8s %8s %8s %9s %8s %6s  %s\n"
	fmt.Fprintf(&b, row, "SCENARIO", "TARGET", "STATUS", "REQUESTS", "OK/S", "P50", "P90", "P99", "MAX",
		"CPU/1K", "CORES S/B", "RSS", "RATIO", "ERRORS")
	for _, s := range r.Scenarios {
		if s.Permiso == nil {
			fmt.Fprintf(&b, "%-11s %-9s %-11s %s\n", s.Name, "permiso", s.Status, s.Reason)
			continue
		}
		ratio := "-"
		if s.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *s.Ratio)
		}
		first, second := "permiso", "reference"
		if s.Labels != nil {
			first, second = s.Labels[0], s.Labels[1]
		}
		writeRow(&b, row, s.Name, first, s.Status, s.Permiso, ratio)
		if s.Reference != nil {
			writeRow(&b, row, s.Name, second, s.Status, s.Reference, "1.00")
		}
		for _, k := range slices.Sorted(maps.Keys(s.Figures)) {
			fmt.Fprintf(&b, "%-11s %-9s %s = %.4g\n", "", "", k, s.Figures[k])
		}
		if s.Reason != "" {
			fmt.Fprintf(&b, "%-11s %-9s %-11s %s\n", "", "", "", s.Reason)
		}
	}
	b.WriteString("\nOK/S: successful requests per second; latencies of successful requests; CPU/1K: server CPU seconds\n" +
		"per 1,000 successful requests; CORES S/B: average cores used by the server / by this process (load\n" +
		"generator, plus the handler in reference rows); RSS: server peak RSS so far; RATIO: OK/S over the\n" +
		"reference handler's, measured in alternating rounds (scale scenarios: the first row's over the second's).\n")
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func writeRow(b *strings.Builder, format, name, target, status string, m *Measurement, ratio string) {
	cpu, rss, srvCores, benchCores := "-", "-", "-", "-"
	if m.ServerCPUSecondsPer1K != nil {
		cpu = fmt.Sprintf("%.3fs", *m.ServerCPUSecondsPer1K)
	}
	if m.ServerCPUCores != nil {
		srvCores = fmt.Sprintf("%.2f", *m.ServerCPUCores)
	}
	if m.BenchCPUCores != nil {
		benchCores = fmt.Sprintf("%.2f", *m.BenchCPUCores)
	}
	if m.ServerPeakRSSBytes > 0 {
		rss = mib(m.ServerPeakRSSBytes)
	}
	if m.Interrupted {
		status = "interrupted"
	}
	fmt.Fprintf(b, format, name, target, status, fmt.Sprint(m.Requests), fmt.Sprintf("%.0f", m.OKPerSecond),
		fmtMS(m.LatencyMS.P50), fmtMS(m.LatencyMS.P90), fmtMS(m.LatencyMS.P99), fmtMS(m.LatencyMS.Max),
		cpu, srvCores+"/"+benchCores, rss, ratio, fmtErrors(m.Errors))
}

// fmtMS prints milliseconds with three significant digits.
func fmtMS(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.0fµs", v*1000)
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 100:
		return fmt.Sprintf("%.1fms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

func fmtErrors(errs map[string]uint64) string {
	if len(errs) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(errs)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, errs[k]))
	}
	return strings.Join(parts, " ")
}

func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
}

func secs(s float64) string { return (time.Duration(s * float64(time.Second))).String() }
