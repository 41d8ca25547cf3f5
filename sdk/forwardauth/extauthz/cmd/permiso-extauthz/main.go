// Command permiso-extauthz serves Envoy's ext_authz gRPC API
// (envoy.service.auth.v3.Authorization) with Permiso forward-auth
// decisions, beside Envoy. With --http-addr it also serves the HTTP
// decision endpoints of `permiso gateway`. See docs/gateways.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/permiso-auth/permiso/sdk/forwardauth"
	"github.com/permiso-auth/permiso/sdk/forwardauth/extauthz"
	"github.com/permiso-auth/permiso/sdk/guard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "permiso-extauthz:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("permiso-extauthz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9191", "gRPC listen address of the Authorization service")
	httpAddr := fs.String("http-addr", "", "also serve the HTTP decision endpoints (/forward-auth, /forward-auth/envoy) here")
	issuer := fs.String("issuer", "", "Permiso's issuer URL (required)")
	rules := fs.String("rules", "", "route rules file, YAML or JSON (required)")
	poll := fs.Duration("revocation-poll", 5*time.Second, "how often the revocation list is followed; at least 1s")
	reload := fs.Duration("reload-interval", 2*time.Second, "how often the rules file is checked for changes; SIGHUP reloads at once")
	level := fs.String("log-level", "info", "debug logs every refusal; info, warn or error")
	clientID := fs.String("client-id", "", "client id for a revocation feed that requires client authentication")
	secretFile := fs.String("client-secret-file", "", "file holding that client's secret; or set env PERMISO_EXTAUTHZ_CLIENT_SECRET")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []error
	if *issuer == "" {
		problems = append(problems, errors.New("--issuer is required"))
	}
	if *rules == "" {
		problems = append(problems, errors.New("--rules is required"))
	}
	if *poll < time.Second {
		problems = append(problems, errors.New("--revocation-poll must be at least 1s"))
	}
	secret := os.Getenv("PERMISO_EXTAUTHZ_CLIENT_SECRET")
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			problems = append(problems, fmt.Errorf("--client-secret-file: %w", err))
		}
		secret = strings.TrimSpace(string(b))
	}
	if (*clientID == "") != (secret == "") {
		problems = append(problems, errors.New("--client-id and a client secret (PERMISO_EXTAUTHZ_CLIENT_SECRET or --client-secret-file) go together"))
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		problems = append(problems, fmt.Errorf("--log-level: %w", err))
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lv}))
	svc, err := forwardauth.New(ctx, forwardauth.Config{
		Guard: guard.Config{Issuer: *issuer, RevocationPoll: *poll, HTTPClient: &http.Client{Timeout: 10 * time.Second},
			ClientID: *clientID, ClientSecret: secret},
		RulesFile: *rules, ReloadInterval: *reload, Logger: log,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			if _, err := svc.Reload(); err != nil {
				log.Error("rules reload on SIGHUP failed; keeping the rules in force", "error", err)
			}
		}
	}()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	g := grpc.NewServer(grpc.MaxRecvMsgSize(1 << 20))
	extauthz.New(svc).Register(g)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(g, hs)
	go func() {
		// Serving once the issuer's keys are loaded, so Envoy's health
		// check keeps traffic away until decisions can be made.
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			st := healthpb.HealthCheckResponse_NOT_SERVING
			if svc.Ready() {
				st = healthpb.HealthCheckResponse_SERVING
			}
			hs.SetServingStatus("", st)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(ln) }()
	fmt.Fprintf(stdout, "permiso-extauthz gRPC listening on %s\n", ln.Addr())

	var hsrv *http.Server
	if *httpAddr != "" {
		hl, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			g.Stop()
			return fmt.Errorf("listen on %s: %w", *httpAddr, err)
		}
		mux := http.NewServeMux()
		svc.Mount(mux)
		hsrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 32 << 10}
		go func() { errc <- hsrv.Serve(hl) }()
		fmt.Fprintf(stdout, "permiso-extauthz HTTP listening on %s\n", hl.Addr())
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	g.GracefulStop()
	if hsrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		hsrv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, grpc.ErrServerStopped) {
		err = nil
	}
	return err
}
