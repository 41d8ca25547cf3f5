// Command mt5-api serves the MT5 trading API of the example over a
// simulated broker, protected by sdk/guard in its revocation-aware local
// mode (or by introspection with --mode introspection).
//
//	go run ./cmd/mt5-api --addr 127.0.0.1:8001 --issuer http://127.0.0.1:8000 --audience https://mt5-api.trading.local
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/permiso-auth/permiso/examples/trading/broker"
	"github.com/permiso-auth/permiso/examples/trading/mt5api"
	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/guard"
)

const version = "1.0.0"

// DefaultAudience is the example's resource identifier for mt5-api.
const DefaultAudience = "https://mt5-api.trading.local"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mt5-api:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// riskClient calls the risk service for the caller: each call exchanges the
// caller's token (and the DPoP proof it came with) for one meant for risk,
// bound to a key of mt5-api's own made at start.
func riskClient(ctx context.Context, issuer, clientID, secret, riskURL, riskAudience string) (*mt5api.RiskClient, error) {
	if clientID == "" || secret == "" {
		return nil, errors.New("--risk-url needs mt5-api's --client-id and --client-secret (token exchange)")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("DPoP key: %w", err)
	}
	cfg := clientcredentials.Config{IssuerURL: issuer, ClientID: clientID, ClientSecret: secret, DPoPKey: key}
	ex := cfg.Exchanger(ctx)
	return &mt5api.RiskClient{URL: riskURL, HTTP: &http.Client{Transport: ex.Transport(nil, riskAudience, "trade:open"),
		Timeout: 10 * time.Second}}, nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("mt5-api", flag.ContinueOnError)
	addr := fs.String("addr", env("MT5_API_ADDR", "127.0.0.1:8001"), "listen address (env MT5_API_ADDR)")
	issuer := fs.String("issuer", env("PERMISO_ISSUER", "http://127.0.0.1:8000"), "Permiso issuer URL (env PERMISO_ISSUER)")
	audience := fs.String("audience", env("MT5_API_AUDIENCE", DefaultAudience), "this API's audience URI (env MT5_API_AUDIENCE)")
	corsOrigin := fs.String("cors-origin", env("MT5_CORS_ORIGIN", ""), "the one browser origin allowed by CORS (env MT5_CORS_ORIGIN)")
	mode := fs.String("mode", env("MT5_API_GUARD_MODE", "local"), "token validation: local (JWKS + revocation list) or introspection")
	poll := fs.Duration("revocation-poll", 2*time.Second, "revocation list poll interval in local mode (0 disables)")
	clientID := fs.String("client-id", env("MT5_API_CLIENT_ID", ""), "mt5-api's client id, for introspection mode and token exchange (env MT5_API_CLIENT_ID)")
	clientSecret := fs.String("client-secret", env("MT5_API_CLIENT_SECRET", ""), "mt5-api's client secret (env MT5_API_CLIENT_SECRET)")
	balance := fs.Float64("balance", 10000, "starting balance of the simulated account in USD")
	externalURL := fs.String("external-url", env("MT5_EXTERNAL_URL", ""), "the URL clients call this API at behind a proxy, for DPoP proofs (env MT5_EXTERNAL_URL); empty: the request's own")
	riskURL := fs.String("risk-url", env("MT5_RISK_URL", ""), "the risk service, asked before every position on the caller's behalf with an exchanged token (env MT5_RISK_URL); empty: no risk check")
	riskAudience := fs.String("risk-audience", env("MT5_RISK_AUDIENCE", "https://risk.trading.local"), "the risk service's audience URI (env MT5_RISK_AUDIENCE)")
	requireBinding := fs.Bool("require-binding", env("MT5_REQUIRE_BINDING", "true") == "true", "refuse bearer tokens: accept only DPoP- or certificate-bound tokens (env MT5_REQUIRE_BINDING)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	gcfg := guard.Config{Issuer: *issuer, Audience: *audience, Logger: log,
		ExternalURL: *externalURL, RequireBinding: *requireBinding}
	switch *mode {
	case "local":
		gcfg.RevocationPoll = *poll
	case "introspection":
		gcfg.Mode, gcfg.ClientID, gcfg.ClientSecret = guard.ModeIntrospection, *clientID, *clientSecret
	default:
		return fmt.Errorf("--mode %q: want local or introspection", *mode)
	}
	g, err := guard.New(ctx, gcfg)
	if err != nil {
		return err
	}
	defer g.Close()

	var risk *mt5api.RiskClient
	if *riskURL != "" {
		if risk, err = riskClient(ctx, *issuer, *clientID, *clientSecret, *riskURL, *riskAudience); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Addr: *addr,
		Handler: mt5api.Handler(mt5api.Config{
			Broker: broker.NewSim(broker.SimConfig{Balance: *balance}), Guard: g, Risk: risk,
			CORSOrigin: *corsOrigin, Version: version, Logger: log,
		}),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    32 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("mt5-api listening", "addr", *addr, "issuer", *issuer, "audience", *audience, "mode", *mode,
		"require_binding", *requireBinding)
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
	log.Info("mt5-api stopped")
	return nil
}
