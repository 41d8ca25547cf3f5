// Command trading-bot trades on mt5-api with a client-credentials token
// from Permiso (sdk/clientcredentials): each round it reads market data,
// opens a small position following the last price move, and closes
// positions it opened earlier. It logs what it does with log/slog.
//
// It holds no Permiso secret: it signs its token requests with the key
// setup made (private_key_jwt), or presents its pod's projected service
// account token (--assertion-file); a secret works too.
//
//	go run ./cmd/trading-bot --private-key-file trading-bot.key.pem --iterations 5
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
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

	"github.com/permiso-auth/permiso/sdk/clientcredentials"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "trading-bot:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type options struct {
	mt5URL     string
	symbols    []string
	volume     float64
	iterations int
	interval   time.Duration
	holdRounds int
}

func run(args []string) error {
	cfg := clientcredentials.FromEnv()
	var o options
	var symbols string
	fs := flag.NewFlagSet("trading-bot", flag.ContinueOnError)
	fs.StringVar(&cfg.IssuerURL, "issuer", env("PERMISO_ISSUER", "http://127.0.0.1:8000"), "Permiso issuer URL (env PERMISO_ISSUER)")
	fs.StringVar(&cfg.ClientID, "client-id", env("PERMISO_CLIENT_ID", "trading-bot"), "client id (env PERMISO_CLIENT_ID)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", cfg.ClientSecret, "client secret (env PERMISO_CLIENT_SECRET; prefer the env or --client-secret-file)")
	fs.StringVar(&cfg.ClientSecretFile, "client-secret-file", cfg.ClientSecretFile, "file holding the client secret (env PERMISO_CLIENT_SECRET_FILE)")
	fs.StringVar(&cfg.Audience, "audience", env("MT5_API_AUDIENCE", "https://mt5-api.trading.local"), "mt5-api audience URI (env MT5_API_AUDIENCE)")
	fs.StringVar(&o.mt5URL, "mt5-url", env("MT5_API_URL", "http://127.0.0.1:8001"), "mt5-api base URL (env MT5_API_URL)")
	fs.StringVar(&symbols, "symbols", "EURUSD,GBPUSD,XAUUSD", "comma-separated symbols to trade")
	fs.Float64Var(&o.volume, "volume", 0.1, "lots per trade")
	fs.IntVar(&o.iterations, "iterations", 0, "rounds to run; 0 runs until interrupted")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "pause between rounds")
	fs.IntVar(&o.holdRounds, "hold", 2, "rounds to hold a position before closing it")
	secretsFile := fs.String("secrets-file", "", "read the client secret from the JSON file written by setup --secrets-out")
	keyFile := fs.String("private-key-file", env("PERMISO_PRIVATE_KEY_FILE", "trading-bot.key.pem"),
		"authenticate with this private key (private_key_jwt; setup makes it), unless a secret or an assertion file is given (env PERMISO_PRIVATE_KEY_FILE)")
	fs.StringVar(&cfg.AssertionFile, "assertion-file", cfg.AssertionFile,
		"authenticate with the token in this file, read for every request: the pod's projected service account token (env PERMISO_ASSERTION_FILE)")
	useDPoP := fs.Bool("dpop", true, "bind the bot's tokens to a DPoP key generated at start (RFC 9449); setup registers the bot so")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secretsFile != "" {
		secret, err := secretFromSetup(*secretsFile, cfg.ClientID)
		if err != nil {
			return err
		}
		cfg.ClientSecret = secret
	}
	// No secret by default: the key setup made, unless the bot was given
	// a secret or its platform's token.
	cfg.PrivateKeyFile = ""
	if cfg.ClientSecret == "" && cfg.ClientSecretFile == "" && cfg.AssertionFile == "" {
		cfg.PrivateKeyFile = *keyFile
	}
	o.symbols = strings.Split(symbols, ",")
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"market:data", "trade:read", "trade:open", "trade:close"}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg.Logger = log
	if *useDPoP {
		// The key lives in this process only: a token copied from a log or
		// a proxy is useless without it, and a restart simply gets new
		// tokens. Any crypto.Signer works, so it could live in an HSM.
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("DPoP key: %w", err)
		}
		cfg.DPoPKey = key
	}
	cfg.Hooks.OnFetch = func(d time.Duration, err error) {
		log.Info("token fetched", "duration", d.Round(time.Millisecond), "error", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	src := cfg.TokenSource(ctx)
	defer src.Close()
	b := &bot{
		api:  &mt5Client{base: strings.TrimSuffix(o.mt5URL, "/"), hc: &http.Client{Transport: src.Transport(nil), Timeout: 15 * time.Second}},
		log:  log,
		opts: o,
		last: map[string]float64{},
	}
	return b.run(ctx)
}

// secretFromSetup reads clientID's secret from a file written by setup.
func secretFromSetup(path, clientID string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secrets file: %w", err)
	}
	var f struct {
		Clients map[string]struct {
			ClientSecret string `json:"client_secret"`
		} `json:"clients"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("decode secrets file %s: %w", path, err)
	}
	s := f.Clients[clientID].ClientSecret
	if s == "" {
		return "", fmt.Errorf("secrets file %s holds no secret for %s", path, clientID)
	}
	return s, nil
}

// bot is the trading loop's state.
type bot struct {
	api  *mt5Client
	log  *slog.Logger
	opts options
	last map[string]float64 // last bid per symbol
	open []openPosition
}

type openPosition struct {
	id     int64
	symbol string
	round  int
}

func (b *bot) run(ctx context.Context) error {
	failures := 0
	for round := 1; b.opts.iterations == 0 || round <= b.opts.iterations; round++ {
		if err := b.round(ctx, round); err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			b.log.Error("round failed", "round", round, "error", err)
			if failures >= 3 {
				return fmt.Errorf("giving up after %d failed rounds: %w", failures, err)
			}
		} else {
			failures = 0
		}
		if b.opts.iterations != 0 && round == b.opts.iterations {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(b.opts.interval):
		}
		if ctx.Err() != nil {
			break
		}
	}
	return b.closeAll(context.WithoutCancel(ctx))
}

// round reads prices, closes positions held long enough and opens one.
func (b *bot) round(ctx context.Context, round int) error {
	symbol := b.opts.symbols[(round-1)%len(b.opts.symbols)]
	q, err := b.api.quote(ctx, symbol)
	if err != nil {
		return err
	}
	b.log.Info("market data", "symbol", q.Symbol, "bid", q.Bid, "ask", q.Ask, "spread", q.Spread)

	keep := b.open[:0]
	for _, p := range b.open {
		if round-p.round < b.opts.holdRounds {
			keep = append(keep, p)
			continue
		}
		profit, err := b.api.closeTrade(ctx, p.id)
		if err != nil {
			return err
		}
		b.log.Info("position closed", "id", p.id, "symbol", p.symbol, "profit", profit)
	}
	b.open = keep

	side := "buy"
	if prev, ok := b.last[symbol]; ok && q.Bid < prev {
		side = "sell"
	}
	b.last[symbol] = q.Bid
	t, err := b.api.openTrade(ctx, symbol, side, b.opts.volume)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
			b.log.Warn("order refused", "symbol", symbol, "reason", ae.Description)
			return nil
		}
		return err
	}
	b.open = append(b.open, openPosition{id: t.ID, symbol: symbol, round: round})
	b.log.Info("position opened", "id", t.ID, "symbol", t.Symbol, "type", t.Type, "volume", t.Volume, "price", t.OpenPrice)
	return nil
}

// closeAll closes the positions the bot still holds.
func (b *bot) closeAll(ctx context.Context) error {
	var errs []error
	for _, p := range b.open {
		profit, err := b.api.closeTrade(ctx, p.id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.log.Info("position closed at exit", "id", p.id, "symbol", p.symbol, "profit", profit)
	}
	b.open = nil
	return errors.Join(errs...)
}
