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
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/forwardauth"
	"github.com/permiso-auth/permiso/sdk/guard"
)

// gatewayOptions are the options of `permiso gateway`.
type gatewayOptions struct {
	addr, issuer, rules, logLevel string
	revocationPoll, reload        time.Duration
	shutdown                      time.Duration
	// Proof of possession: where a certificate-bound token's certificate
	// comes from, and DPoP nonces.
	certHeader, certFormat, trustedProxies string
	clientCert                             clientcert.Forwarded
	dpopNonce                              bool
	// Credentials for an issuer whose revocation feed requires client
	// authentication (permiso serve --revocation-feed-auth). The secret
	// comes from the environment or a file, never from a flag that ps shows.
	clientID, clientSecretFile, clientSecret string
}

// runGateway serves forward-auth decisions beside a proxy (nginx, Caddy,
// Traefik, Envoy HTTP): the rules file, the issuer's keys and its
// revocation list are held in memory, so a decision never waits for the
// issuer or a database.
func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseGatewayFlags(args, os.Environ(), stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("log-level %q: %w", o.logLevel, err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	svc, err := forwardauth.New(ctx, forwardauth.Config{
		Guard: guard.Config{
			Issuer:            o.issuer,
			RevocationPoll:    o.revocationPoll,
			HTTPClient:        &http.Client{Timeout: 10 * time.Second},
			ClientCertificate: o.clientCert,
			DPoP:              guard.DPoPConfig{Nonce: o.dpopNonce},
			ClientID:          o.clientID,
			ClientSecret:      o.clientSecret,
		},
		RulesFile:      o.rules,
		ReloadInterval: o.reload,
		Logger:         log,
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
			if changed, err := svc.Reload(); err != nil {
				log.Error("rules reload on SIGHUP failed; keeping the rules in force", "error", err)
			} else if changed {
				log.Info("rules reloaded on SIGHUP", "file", o.rules)
			}
		}
	}()

	mux := http.NewServeMux()
	svc.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		st := svc.Status()
		if !st.Ready {
			msg := "not ready: the issuer's keys or revocation list are not loaded yet"
			if st.Revocations.Unauthorized {
				msg = "not ready: the issuer's revocation feed requires client authentication (--client-id and PERMISO_GATEWAY_CLIENT_SECRET)"
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.addr, err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("permiso gateway serving", "addr", ln.Addr().String(), "issuer", o.issuer, "rules", o.rules)
	fmt.Fprintf(stdout, "permiso gateway listening on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func parseGatewayFlags(args, env []string, out io.Writer) (*gatewayOptions, error) {
	o := &gatewayOptions{}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9181", "listen address of the decision endpoints (env PERMISO_GATEWAY_ADDR)")
	fs.StringVar(&o.issuer, "issuer", "", "Permiso's issuer URL, whose keys and revocation list are followed (env PERMISO_GATEWAY_ISSUER; required)")
	fs.StringVar(&o.rules, "rules", "", "route rules file, YAML or JSON (env PERMISO_GATEWAY_RULES; required)")
	fs.DurationVar(&o.revocationPoll, "revocation-poll", 5*time.Second, "how often the revocation list is followed; at least 1s (env PERMISO_GATEWAY_REVOCATION_POLL)")
	fs.DurationVar(&o.reload, "reload-interval", 2*time.Second, "how often the rules file is checked for changes; SIGHUP reloads at once (env PERMISO_GATEWAY_RELOAD_INTERVAL)")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 15*time.Second, "time in-flight decisions get at shutdown (env PERMISO_GATEWAY_SHUTDOWN_TIMEOUT)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug logs every refusal; info, warn or error (env PERMISO_GATEWAY_LOG_LEVEL)")
	fs.StringVar(&o.certHeader, "client-cert-header", "", "header in which the proxy that terminates mutual TLS forwards the client certificate, for certificate-bound tokens (env PERMISO_GATEWAY_CLIENT_CERT_HEADER)")
	fs.StringVar(&o.certFormat, "client-cert-format", "nginx", "format of that header: nginx ($ssl_client_escaped_cert) or xfcc (Envoy) (env PERMISO_GATEWAY_CLIENT_CERT_FORMAT)")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "addresses or CIDRs of the proxies whose certificate header is believed, separated by commas (env PERMISO_GATEWAY_TRUSTED_PROXIES)")
	fs.BoolVar(&o.dpopNonce, "dpop-nonce", false, "require this gateway's nonce in DPoP proofs (RFC 9449 §9) (env PERMISO_GATEWAY_DPOP_NONCE)")
	fs.StringVar(&o.clientID, "client-id", "", "client id the gateway authenticates with to a revocation feed that requires it (env PERMISO_GATEWAY_CLIENT_ID)")
	fs.StringVar(&o.clientSecretFile, "client-secret-file", "", "file holding that client's secret; or set env PERMISO_GATEWAY_CLIENT_SECRET (env PERMISO_GATEWAY_CLIENT_SECRET_FILE)")
	fs.Usage = func() {
		fmt.Fprintln(out, "Usage: permiso gateway --issuer URL --rules FILE [options]\n\n"+
			"Serves forward-auth decisions for nginx auth_request, Caddy forward_auth,\n"+
			"Traefik forwardAuth (GET /forward-auth) and Envoy ext_authz HTTP\n"+
			"(path_prefix /forward-auth/envoy). See docs/gateways.md.\n\nOptions (flag > env):")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var problems []error
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "PERMISO_GATEWAY_")
		if !ok {
			continue
		}
		if name == "CLIENT_SECRET" {
			o.clientSecret = v
			continue
		}
		name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		f := fs.Lookup(name)
		if f == nil {
			problems = append(problems, fmt.Errorf("%s: unknown option", k))
			continue
		}
		if set[name] {
			continue
		}
		if err := f.Value.Set(v); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", k, err))
		}
	}
	if o.issuer == "" {
		problems = append(problems, errors.New("issuer is required"))
	} else if u, err := url.Parse(o.issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		problems = append(problems, fmt.Errorf("issuer %q must be an http(s) URL", o.issuer))
	}
	if o.rules == "" {
		problems = append(problems, errors.New("rules is required"))
	}
	if o.clientSecretFile != "" {
		b, err := os.ReadFile(o.clientSecretFile)
		if err != nil {
			problems = append(problems, fmt.Errorf("client-secret-file: %w", err))
		}
		o.clientSecret = strings.TrimSpace(string(b))
	}
	if (o.clientID == "") != (o.clientSecret == "") {
		problems = append(problems, errors.New("client-id and a client secret (PERMISO_GATEWAY_CLIENT_SECRET or --client-secret-file) go together"))
	}
	if o.revocationPoll < time.Second {
		problems = append(problems, errors.New("revocation-poll must be at least 1s: a gateway must follow revocations"))
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		problems = append(problems, fmt.Errorf("addr %q: %w", o.addr, err))
	}
	o.clientCert = clientcert.Forwarded{Header: o.certHeader, Format: o.certFormat}
	for _, p := range strings.FieldsFunc(o.trustedProxies, func(r rune) bool { return r == ',' || r == ' ' }) {
		pre, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				problems = append(problems, fmt.Errorf("trusted-proxies: %q is not an address or CIDR", p))
				continue
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		o.clientCert.TrustedProxies = append(o.clientCert.TrustedProxies, pre)
	}
	if err := o.clientCert.Check(); err != nil {
		problems = append(problems, fmt.Errorf("client-cert-header: %w", err))
	}
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	return o, errors.Join(problems...)
}
