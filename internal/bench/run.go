package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Limits on a run's settings.
const (
	MaxDuration    = 5 * time.Minute
	MaxWarmup      = time.Minute
	MaxConnections = 4096
)

// Config describes one benchmark run. The zero value of every field but
// Connections and Duration has a meaning, given below.
type Config struct {
	// Target is the base URL of a running server; empty means start one.
	Target string
	// AdminClientID and AdminClientSecret authenticate to the admin API.
	// When the benchmark starts the server they default to its bootstrap
	// admin client.
	AdminClientID, AdminClientSecret string
	// ServerBinary is the permiso executable to start; required when
	// Target is empty.
	ServerBinary string
	// ServerArgs go to `serve` after --data-dir and --addr.
	ServerArgs []string
	// Scenarios to run, in this order; empty means all.
	Scenarios []string
	// Connections, Warmup and Duration shape each load run.
	Connections      int
	Warmup, Duration time.Duration
	// Reference also runs the scenarios that have one against the
	// reference handler, with the same settings.
	Reference bool
	// ReferenceMode is ReferenceProcess (the default: the handler runs as
	// ReferenceBinary's `bench --serve-reference`) or ReferenceInProcess.
	ReferenceMode   string
	ReferenceBinary string
	// Rounds splits each comparison with the reference into this many
	// alternating slices per side (server, reference, reference, server,
	// ...), so a change in the machine's background load hits both alike;
	// zero means 1. Slices are at least 200ms; later slices warm up for at
	// most 200ms. Scenarios without a reference run in one piece.
	Rounds int
	// AllowRemote permits a non-loopback Target.
	AllowRemote bool
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Lookup resolves the target's host for the loopback check; nil uses
	// the system resolver.
	Lookup LookupFunc
}

// Validate reports every problem with cfg at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Connections < 1 || cfg.Connections > MaxConnections {
		errs = append(errs, fmt.Errorf("connections must be 1..%d, got %d", MaxConnections, cfg.Connections))
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxDuration {
		errs = append(errs, fmt.Errorf("duration must be above 0 and at most %s, got %s", MaxDuration, cfg.Duration))
	}
	if cfg.Warmup < 0 || cfg.Warmup > MaxWarmup {
		errs = append(errs, fmt.Errorf("warm-up must be 0..%s, got %s", MaxWarmup, cfg.Warmup))
	}
	if cfg.Rounds < 0 {
		errs = append(errs, fmt.Errorf("rounds must not be negative, got %d", cfg.Rounds))
	}
	if cfg.Target == "" && cfg.ServerBinary == "" {
		errs = append(errs, errors.New("no target and no server binary to start"))
	}
	for _, name := range cfg.Scenarios {
		if _, ok := lookupScenario(name); !ok {
			errs = append(errs, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(ScenarioNames(), ", ")))
		}
	}
	return errors.Join(errs...)
}

// ParseScenarios splits a comma-separated list; "all" (or empty) means
// every scenario.
func ParseScenarios(s string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		switch {
		case part == "":
		case part == "all":
			return ScenarioNames()
		case !slices.Contains(out, part):
			out = append(out, part)
		}
	}
	if len(out) == 0 {
		return ScenarioNames()
	}
	return out
}

// Run performs the benchmark and returns its report. The report is
// returned even with an error, as far as it got; an error means a scenario
// failed or the run could not start. Scenarios the server does not offer
// are reported as unavailable, which is not an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names := cfg.Scenarios
	if len(names) == 0 {
		names = ScenarioNames()
	}
	rep := &Report{StartedAt: time.Now().UTC(), Connections: cfg.Connections,
		DurationSeconds: cfg.Duration.Seconds(), WarmupSeconds: cfg.Warmup.Seconds(),
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}

	var base string // the server's URL: the one started here, or cfg.Target
	adminID, adminSecret := cfg.AdminClientID, cfg.AdminClientSecret
	var srv *serverProcess
	var mb *mtlsBench
	if cfg.Target == "" {
		args := cfg.ServerArgs
		if slices.Contains(cfg.Scenarios, ScenarioTLSClientAuth) || slices.Contains(cfg.Scenarios, ScenarioSelfSignedTLS) { // named: they need serve options
			dir, err := os.MkdirTemp("", "permiso-bench-certs-")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(dir)
			if mb, err = newMTLSBench(dir); err != nil {
				return nil, err
			}
			args = append(slices.Clone(args), mb.serverArgs()...)
		}
		var err error
		srv, err = startServer(ctx, startConfig{binary: cfg.ServerBinary, args: args, logger: log})
		if err != nil {
			return nil, err
		}
		defer srv.stop(log)
		if adminID == "" || adminSecret == "" {
			if err := srv.readBootstrap(); err != nil {
				return nil, err
			}
			adminID, adminSecret = srv.adminID, srv.adminPW
		}
		base = srv.baseURL
		rep.ServerStarted = true
		rep.Server = &ServerStats{PID: srv.pid(), Args: cfg.ServerArgs,
			StartupMS: float64(srv.startup.Microseconds()) / 1000}
	} else {
		u, err := CheckTargetURL(ctx, cfg.Target, cfg.AllowRemote, cfg.Lookup)
		if err != nil {
			return nil, err
		}
		base = strings.TrimRight(u.String(), "/")
	}
	rep.Target = base

	var ref *referenceServer
	if cfg.Reference && slices.ContainsFunc(names, func(n string) bool { sc, _ := lookupScenario(n); return sc.reference }) {
		var err error
		if cfg.ReferenceMode == ReferenceInProcess || cfg.ReferenceBinary == "" {
			ref, err = startReference()
		} else {
			ref, err = startReferenceProcess(ctx, cfg.ReferenceBinary)
		}
		if err != nil {
			return nil, err
		}
		defer ref.close()
	}

	st := newSetup(base, adminID, adminSecret, cfg.Connections, cfg.AllowRemote)
	st.mtls = mb
	defer st.client.CloseIdleConnections()
	var failed []string
	for _, name := range names {
		if ctx.Err() != nil {
			break
		}
		sc, _ := lookupScenario(name)
		res := runScenario(ctx, cfg, log, sc, st, srv, ref)
		rep.Scenarios = append(rep.Scenarios, res)
		if res.Status == StatusFailed {
			failed = append(failed, name)
		}
	}
	if srv != nil {
		if rss, err := processPeakRSS(srv.pid()); err == nil {
			rep.Server.PeakRSSBytes = rss
		}
	}
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("scenarios failed: %s", strings.Join(failed, ", "))
	}
	return rep, nil
}

// referenceServer is the reference handler on its own loopback listener,
// in this process (srv) or another (stop).
type referenceServer struct {
	srv              *http.Server
	stop             func()
	baseURL          string
	clientID, secret string
	// clientKey signs the reference client's private_key_jwt assertions.
	clientKey *ecdsa.PrivateKey
}

// newReferenceServer draws the reference client's secret and key.
func newReferenceServer() (*referenceServer, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("reference secret: %w", err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("reference client key: %w", err)
	}
	return &referenceServer{clientID: "bench-reference", secret: "pms_" + base64.RawURLEncoding.EncodeToString(raw[:]), clientKey: k}, nil
}

func startReference() (*referenceServer, error) {
	rs, err := newReferenceServer()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("reference listener: %w", err)
	}
	rs.baseURL = "http://" + l.Addr().String()
	h, err := NewReference(ReferenceConfig{ClientID: rs.clientID, Secret: rs.secret, Issuer: rs.baseURL, ClientKey: &rs.clientKey.PublicKey})
	if err != nil {
		l.Close()
		return nil, err
	}
	rs.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go rs.srv.Serve(l)
	return rs, nil
}

func (rs *referenceServer) close() {
	if rs.stop != nil {
		rs.stop()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rs.srv.Shutdown(ctx)
}
