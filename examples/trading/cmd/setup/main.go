// Command setup registers the trading example with a running Permiso, as
// the original's setup-services script did, through the real admin API: it
// waits for Permiso to be healthy, gets an admin token with the bootstrap
// admin client's credentials, creates the trading scopes and the service
// clients mt5-api-service and trading-bot when missing, and prints a
// summary. Running it again changes nothing.
//
// trading-bot holds no secret by default: setup makes a key pair, writes
// the private key for the bot (--bot-key-out) and registers the public
// key (private_key_jwt). --bot-auth federated binds the bot to its
// Kubernetes service account instead; --bot-auth secret gives it a secret.
//
//	go run ./cmd/setup --permiso-url http://127.0.0.1:8000 --bootstrap-file ./permiso-data/bootstrap-admin.json --secrets-out secrets.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// scopeDef is a scope the example needs.
type scopeDef struct{ name, description string }

var tradingScopes = []scopeDef{
	{"trade:read", "Read trades"}, {"trade:open", "Open trades"}, {"trade:close", "Close trades"},
	{"trade:modify", "Modify trades"}, {"account:read", "Read the trading account"},
	{"account:balance", "Read the account balance"}, {"market:data", "Read market data"},
	{"service:mt5", "Act as the MT5 service"},
}

// clientDef is a service client the example needs.
type clientDef struct {
	ID, Name, Description string
	Scopes                []string
	Trusted               bool
	Lifetime              int
	// DPoP registers dpop_bound_access_tokens: every token of the client
	// is bound to its DPoP key (RFC 9449 §5.2).
	DPoP bool
	// Credentials are the fields of a client without a secret (its
	// method, its keys); nil gives the client a secret.
	Credentials map[string]any
	// Update are more fields, set on an existing client too: mt5-api's
	// token-exchange grant and policy (RFC 8693, docs/delegation.md).
	Update map[string]any
}

var serviceClients = []clientDef{
	{ID: "mt5-api-service", Name: "MT5 API Service", Description: "The MT5 trading API (introspection and service calls)",
		Scopes:  []string{"trade:open", "trade:close", "trade:modify", "trade:read", "account:read", "account:balance", "market:data", "service:mt5"},
		Trusted: true, Lifetime: 3600},
	{ID: "trading-bot", Name: "Trading Bot", Description: "Automated trading bot of the example",
		Scopes:   []string{"market:data", "trade:read", "trade:open", "trade:close", "account:read"},
		Lifetime: 900, DPoP: true},
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "setup:", err)
		os.Exit(1)
	}
}

type options struct {
	permiso, adminID, adminSecret, bootstrap, audience, secretsOut string
	riskAudience                                                   string
	wait                                                           time.Duration
	bot                                                            botOptions
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("setup", flag.ContinueOnError)
	fs.StringVar(&o.permiso, "permiso-url", env("PERMISO_ISSUER", "http://127.0.0.1:8000"), "Permiso base URL (env PERMISO_ISSUER)")
	fs.StringVar(&o.adminID, "admin-client-id", env("PERMISO_ADMIN_CLIENT_ID", ""), "admin client id (env PERMISO_ADMIN_CLIENT_ID)")
	fs.StringVar(&o.adminSecret, "admin-client-secret", env("PERMISO_ADMIN_CLIENT_SECRET", ""), "admin client secret (env PERMISO_ADMIN_CLIENT_SECRET)")
	fs.StringVar(&o.bootstrap, "bootstrap-file", "", "read the admin credentials from DATA_DIR/bootstrap-admin.json")
	fs.StringVar(&o.audience, "mt5-audience", env("MT5_API_AUDIENCE", "https://mt5-api.trading.local"), "audience URI of mt5-api")
	fs.StringVar(&o.riskAudience, "risk-audience", env("RISK_AUDIENCE", "https://risk.trading.local"), "audience URI of the risk service")
	fs.StringVar(&o.secretsOut, "secrets-out", "", "write created client secrets to this JSON file (mode 0600)")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "how long to wait for Permiso to become healthy")
	fs.StringVar(&o.bot.auth, "bot-auth", botPrivateKey, "how trading-bot authenticates: private-key-jwt (a key pair setup makes; no secret), federated (its Kubernetes service account) or secret")
	fs.StringVar(&o.bot.keyFile, "bot-key-out", "trading-bot.key.pem", "where the bot's private key is (made when missing; mode 0600), for private-key-jwt")
	fs.StringVar(&o.bot.k8sIssuer, "k8s-issuer", "", "the cluster's service account issuer, for --bot-auth federated")
	fs.StringVar(&o.bot.k8sAudience, "k8s-audience", "permiso", "the audience of the projected token, for --bot-auth federated")
	fs.StringVar(&o.bot.k8sSubject, "k8s-subject", "system:serviceaccount:trading:trading-bot", "the bot's service account, for --bot-auth federated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.bootstrap != "" {
		if err := readBootstrap(o.bootstrap, &o); err != nil {
			return err
		}
	}
	if o.adminID == "" || o.adminSecret == "" {
		return errors.New("admin credentials required: --bootstrap-file or --admin-client-id/--admin-client-secret")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	base := strings.TrimSuffix(o.permiso, "/")

	log.Info("waiting for Permiso", "url", base+"/health")
	if err := waitHealthy(ctx, base+"/health", o.wait); err != nil {
		return err
	}
	cfg := clientcredentials.Config{IssuerURL: base, ClientID: o.adminID, ClientSecret: o.adminSecret}
	ts := cfg.TokenSource(ctx)
	defer ts.Close()
	admin := &adminAPI{base: base + "/api/v1", hc: &http.Client{Transport: ts.Transport(nil), Timeout: 30 * time.Second}}

	for _, s := range tradingScopes {
		created, err := admin.ensureScope(ctx, s)
		if err != nil {
			return err
		}
		log.Info("scope", "name", s.name, "created", created)
	}
	botCreds, err := o.bot.credentialFields()
	if err != nil {
		return err
	}
	secrets := loadSecrets(o.secretsOut)
	fmt.Fprintln(out, "Service clients:")
	for _, c := range serviceClients {
		if c.ID == "trading-bot" {
			c.Credentials = botCreds
		}
		if c.ID == "mt5-api-service" {
			// mt5-api exchanges the tokens it is called with (aud: mt5-api)
			// for tokens for the risk service, acting for their subject, no
			// wider than the subject's trade:open.
			c.Update = map[string]any{"grant_types": []string{"client_credentials", wire.GrantTokenExchange},
				"token_exchange": map[string]any{"resources": []string{o.audience}, "delegate": true,
					"targets": []map[string]any{{"audience": o.riskAudience, "scopes": []string{"trade:open"}}}}}
		}
		secret, err := admin.ensureClient(ctx, c, o.audience)
		if err != nil {
			return err
		}
		status := "exists (secret unchanged)"
		if secret != "" {
			secrets[c.ID] = secret
			status = "created"
		}
		auth := "secret"
		if m, ok := c.Credentials["token_endpoint_auth_method"].(string); ok {
			auth, status = m, strings.Replace(status, " (secret unchanged)", "", 1)
		}
		fmt.Fprintf(out, "  %-16s %-26s auth=%-17s trusted=%-5v dpop=%-5v scopes=%s\n", c.ID, status, auth, c.Trusted, c.DPoP, strings.Join(c.Scopes, " "))
		if c.ID == "trading-bot" && o.bot.auth == botFederated {
			if err := admin.ensureFederation(ctx, o.bot, c.ID); err != nil {
				return err
			}
			fmt.Fprintf(out, "  trading-bot is bound to %s of %s\n", o.bot.k8sSubject, o.bot.k8sIssuer)
		}
		if c.ID == "trading-bot" && o.bot.auth == botPrivateKey {
			fmt.Fprintf(out, "  trading-bot's private key: %s (run the bot with --private-key-file %s)\n", o.bot.keyFile, o.bot.keyFile)
		}
	}
	fmt.Fprintf(out, "Audience: %s\nRisk:     %s\nIssuer:   %s\n", o.audience, o.riskAudience, base)
	if o.secretsOut != "" {
		if err := writeSecrets(o.secretsOut, secrets); err != nil {
			return err
		}
		fmt.Fprintf(out, "Secrets written to %s\n", o.secretsOut)
	} else {
		for id, s := range secrets {
			fmt.Fprintf(out, "  secret of %s: %s (shown once)\n", id, s)
		}
	}
	return nil
}

// readBootstrap reads Permiso's bootstrap-admin.json.
func readBootstrap(path string, o *options) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bootstrap file: %w", err)
	}
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		return fmt.Errorf("decode bootstrap file %s: %w", path, err)
	}
	o.adminID, o.adminSecret = creds.ClientID, creds.ClientSecret
	return nil
}

// waitHealthy polls url until it answers 200 or the timeout passes.
func waitHealthy(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("health request: %w", err)
		}
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy after %s", url, timeout)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// loadSecrets reads a secrets file written earlier, or returns an empty map.
func loadSecrets(path string) map[string]string {
	secrets := map[string]string{}
	if path == "" {
		return secrets
	}
	if b, err := os.ReadFile(path); err == nil {
		var f secretsFile
		if json.Unmarshal(b, &f) == nil {
			for id, c := range f.Clients {
				secrets[id] = c.ClientSecret
			}
		}
	}
	return secrets
}

type secretsFile struct {
	Clients map[string]clientCreds `json:"clients"`
}

type clientCreds struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// writeSecrets writes the secrets with mode 0600.
func writeSecrets(path string, secrets map[string]string) error {
	f := secretsFile{Clients: map[string]clientCreds{}}
	for id, s := range secrets {
		f.Clients[id] = clientCreds{ClientID: id, ClientSecret: s}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	return os.Chmod(path, 0o600)
}
