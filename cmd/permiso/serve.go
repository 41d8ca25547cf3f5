package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"

	"github.com/permiso-auth/permiso/internal/config"
	"github.com/permiso-auth/permiso/internal/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load("serve", args, os.Environ(), stderr)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	srv, err := server.New(ctx, serverConfig(cfg, logger, stdout))
	if err != nil {
		return err
	}
	return srv.Run(ctx, nil)
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load("migrate", args, os.Environ(), stderr)
	if err != nil {
		return err
	}
	if err := server.Migrate(ctx, serverConfig(cfg, newLogger(cfg, stderr), stdout)); err != nil {
		return err
	}
	io.WriteString(stdout, "migrations applied\n")
	return nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serverConfig translates the loaded configuration into the server's own.
func serverConfig(c *config.Config, logger *slog.Logger, out io.Writer) server.Config {
	var proxies []netip.Prefix
	for _, p := range c.TrustedProxies {
		pre, _ := config.ParsePrefix(p) // validated by config.Load
		proxies = append(proxies, pre)
	}
	var outboundAllow []netip.Prefix
	for _, p := range c.OutboundAllow {
		pre, _ := config.ParsePrefix(p) // validated by config.Load
		outboundAllow = append(outboundAllow, pre)
	}
	stale := c.StaleIfError
	if stale == 0 {
		stale = -1 // --stale-if-error 0s: off (zero means the default in server.Config)
	}
	return server.Config{
		DataDir: c.DataDir, Addr: c.Addr, Issuer: c.Issuer, APIAudience: c.APIAudience, DatabaseURL: c.DatabaseURL, MasterKey: c.MasterKey,
		Environment: c.Environment, Version: readBuildInfo().Version,
		SigningAlg: c.SigningAlg, KeyPublishDelay: c.KeyPublishDelay, KeyRetention: c.KeyRetention,
		TrustedProxies: proxies, CORSOrigins: c.CORSOrigins, OutboundAllow: outboundAllow, ShutdownTimeout: c.ShutdownTimeout, DrainDelay: c.DrainDelay,
		ReadTimeout: c.ReadTimeout, WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes,
		SecretGrace: c.SecretGrace, CacheTTL: c.CacheTTL, StaleIfError: stale, AuditRetention: c.AuditRetention,
		RevocationFeedAuth: c.RevocationFeedAuth, DPoPNonce: c.DPoPNonce,
		TxnTrustDomain: c.TxnTrustDomain, TxnTokenLifetime: c.TxnTokenLifetime,
		AccessTokenLifetime: c.AccessTokenLifetime, RefreshTokenLifetime: c.RefreshTokenLifetime,
		MaxLoginAttempts: c.MaxLoginAttempts, MaxUserLoginAttempts: c.MaxUserLoginAttempts, LockoutDuration: c.LockoutDuration, DefaultUserRole: c.DefaultUserRole,
		PasswordMinLength: c.PasswordMinLength, SMTPURL: c.SMTPURL, MailFrom: c.MailFrom,
		MetricsAddr: c.MetricsAddr, PprofAddr: c.PprofAddr, RedisURL: c.RedisURL, RedisPrefix: c.RedisPrefix, AuthFailuresPerMin: c.AuthFailuresPerMin,
		TLSCertFile: c.TLSCert, TLSKeyFile: c.TLSKey, MTLSAddr: c.MTLSAddr, MTLSBaseURL: c.MTLSBaseURL, ClientCAFile: c.ClientCAFile,
		ClientCertHeader: c.ClientCertHeader, ClientCertFormat: c.ClientCertFormat,
		AssertionMaxLifetime: c.AssertionMaxLifetime, ReplayStrict: c.ReplayStrict,
		Logger: logger, Out: out,
	}
}
