// Command risk serves the trading example's risk service, which mt5-api
// calls for a trader with a token obtained by token exchange. It accepts
// only tokens of the actors it is given, bound to their key (DPoP), and
// follows Permiso's revocation list.
//
//	go run ./cmd/risk --addr 127.0.0.1:8002 --issuer http://127.0.0.1:8000 --audience https://risk.trading.local
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/permiso-auth/permiso/examples/trading/risk"
	"github.com/permiso-auth/permiso/sdk/guard"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "risk:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("risk", flag.ContinueOnError)
	addr := fs.String("addr", env("RISK_ADDR", "127.0.0.1:8002"), "listen address (env RISK_ADDR)")
	issuer := fs.String("issuer", env("PERMISO_ISSUER", "http://127.0.0.1:8000"), "Permiso issuer URL (env PERMISO_ISSUER)")
	audience := fs.String("audience", env("RISK_AUDIENCE", "https://risk.trading.local"), "this service's audience URI (env RISK_AUDIENCE)")
	actors := fs.String("actors", env("RISK_ACTORS", "mt5-api-service"), "client ids allowed to act for a trader here, comma separated (env RISK_ACTORS)")
	maxVolume := fs.Float64("max-volume", 10, "largest position approved, in lots")
	poll := fs.Duration("revocation-poll", 2*time.Second, "revocation list poll interval")
	requireBinding := fs.Bool("require-binding", env("RISK_REQUIRE_BINDING", "true") == "true", "accept only DPoP- or certificate-bound tokens (env RISK_REQUIRE_BINDING)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g, err := guard.New(ctx, guard.Config{Issuer: *issuer, Audience: *audience, RevocationPoll: *poll,
		RequireBinding: *requireBinding, Logger: log})
	if err != nil {
		return err
	}
	defer g.Close()
	srv := &http.Server{Addr: *addr, Handler: risk.Handler(risk.Config{Guard: g, Actors: strings.Split(*actors, ","),
		MaxVolume: *maxVolume, Logger: log}), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 32 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("risk listening", "addr", *addr, "issuer", *issuer, "audience", *audience, "actors", *actors)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
