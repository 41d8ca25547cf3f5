package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/bench"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// runBench is `permiso bench`: it load-tests a server it starts (or one
// given with --target) and prints the report.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        bench.Config
		scenarios  string
		jsonPath   string
		serverArgs stringList
		verbose    bool
	)
	fs.StringVar(&scenarios, "scenario", "all", "scenarios, separated by commas or spaces, or all")
	fs.IntVar(&cfg.Connections, "connections", 32, "concurrent keep-alive connections (1 to 4096)")
	fs.IntVar(&cfg.Connections, "c", 32, "shorthand for --connections")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per scenario (at most 5m)")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "shorthand for --duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up before each scenario")
	fs.StringVar(&jsonPath, "json", "", "also write the report as JSON to `FILE` (- for stdout, which then gets only JSON)")
	fs.BoolVar(&cfg.Reference, "reference", true, "also run the client_credentials scenarios against the reference handler")
	fs.StringVar(&cfg.ReferenceMode, "reference-mode", bench.ReferenceProcess, "process: the reference runs as a program of its own, as Permiso does; inproc: inside this process (flatters it)")
	serveReference := fs.String("serve-reference", "", "internal: serve the reference handler on `ADDR` and nothing else")
	fs.IntVar(&cfg.Rounds, "rounds", 5, "split each comparison with the reference into N alternating slices per side (each at least 200ms)")
	fs.StringVar(&cfg.Target, "target", "", "base `URL` of a running server; empty starts one")
	fs.StringVar(&cfg.AdminClientID, "admin-client-id", os.Getenv("PERMISO_ADMIN_CLIENT_ID"), "admin client id (env PERMISO_ADMIN_CLIENT_ID); default with a started server: its bootstrap admin")
	fs.StringVar(&cfg.AdminClientSecret, "admin-client-secret", "", "admin client secret (env PERMISO_ADMIN_CLIENT_SECRET)")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a target that is not a loopback address")
	fs.StringVar(&cfg.ServerBinary, "server-bin", "", "permiso `binary` to start; default this executable")
	fs.Var(&serverArgs, "server-arg", "extra argument for the started server's serve command (repeatable), e.g. --server-arg=--database-url=postgres://...")
	fs.BoolVar(&verbose, "v", false, "log progress in detail")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: permiso bench [options]\n\n"+
			"Starts a Permiso server on a loopback port (or targets --target), creates a client and a user\n"+
			"through the admin API, and drives each scenario with N keep-alive connections in a closed loop.\n\n"+
			"Scenarios:\n%s\nOptions:\n", bench.ScenarioHelp())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *serveReference != "" {
		return bench.ServeReference(ctx, *serveReference, os.Stdout)
	}
	if cfg.ReferenceMode != bench.ReferenceProcess && cfg.ReferenceMode != bench.ReferenceInProcess {
		return fmt.Errorf("--reference-mode must be %s or %s", bench.ReferenceProcess, bench.ReferenceInProcess)
	}
	if exe, err := os.Executable(); err == nil {
		cfg.ReferenceBinary = exe
	}
	if cfg.AdminClientSecret == "" {
		cfg.AdminClientSecret = os.Getenv("PERMISO_ADMIN_CLIENT_SECRET")
	}
	cfg.Scenarios = bench.ParseScenarios(scenarios)
	// No load balancer follows the started server's readiness: stop it
	// without a drain delay (a --server-arg may still set one).
	cfg.ServerArgs = append([]string{"--drain-delay=0s"}, serverArgs...)
	if cfg.Target == "" && cfg.ServerBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the permiso executable: %w", err)
		}
		cfg.ServerBinary = exe
	}
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	rep, runErr := bench.Run(ctx, cfg)
	if rep == nil {
		return runErr
	}
	if jsonPath != "-" {
		if err := rep.WriteText(stdout); err != nil {
			return err
		}
	}
	if err := writeBenchJSON(rep, jsonPath, stdout); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

func writeBenchJSON(rep *bench.Report, path string, stdout io.Writer) error {
	switch path {
	case "":
		return nil
	case "-":
		return rep.WriteJSON(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	if err := rep.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	return nil
}
