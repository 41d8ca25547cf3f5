package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
)

// machine holds what clients without shared secrets need: the record of
// used assertion ids, remote key sets, the trusts, client CAs and TLS.
type machine struct {
	replay     *replay.Records
	remoteKeys *remotekeys.Cache
	federation *federation.Federation
	clientCAs  *x509.CertPool
	extractor  mtls.Extractor
	serverTLS  *tls.Config // nil: plain HTTP on Addr
	lastReload time.Time
}

// mtlsOn reports whether a client certificate can reach Permiso.
func (m *machine) mtlsOn(cfg Config) bool { return cfg.MTLSAddr != "" || cfg.ClientCertHeader != "" }

func (s *Server) initMachine(ctx context.Context) error {
	cfg, m := s.cfg, &s.machine
	var err error
	// On SQLite this process owns the file: its memory decides and the
	// database keeps the records across restarts.
	sole := s.db.Dialect() == sqlstore.DialectSQLite
	if m.replay, err = replay.New(replay.Config{Store: s.def, RedisURL: cfg.RedisURL, RedisPrefix: cfg.RedisPrefix,
		Strict: cfg.ReplayStrict, SoleUser: sole, Horizon: max(cfg.AssertionMaxLifetime, 5*time.Minute) + time.Minute,
		Logger: s.log.With("component", "replay"), Now: cfg.Now}); err != nil {
		return fmt.Errorf("replay records: %w", err)
	}
	// Key sets are small: a tighter body limit than webhooks get.
	keyClient := outbound.New(outbound.Config{Timeout: 5 * time.Second, MaxBodyBytes: 256 << 10, Allow: cfg.OutboundAllow})
	m.remoteKeys = remotekeys.New(remotekeys.Config{Client: keyClient, RefetchInterval: cfg.KeyRefetchInterval,
		Logger: s.log.With("component", "remotekeys"), Now: cfg.Now})
	m.federation = federation.New(federation.Config{Store: s.def, Keys: m.remoteKeys, Issuer: cfg.Issuer,
		Logger: s.log.With("component", "federation"), Now: cfg.Now})
	if err := m.federation.Reload(ctx); err != nil {
		return err
	}
	m.lastReload = time.Now()
	if cfg.ClientCAFile != "" {
		b, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("client CA file: %w", err)
		}
		var n int
		if m.clientCAs, n, err = mtls.LoadPool(b); err != nil {
			return fmt.Errorf("client CA file %s: %w", cfg.ClientCAFile, err)
		}
		s.log.Info("client CAs loaded", "file", cfg.ClientCAFile, "certificates", n)
	}
	m.extractor = mtls.Extractor{Header: cfg.ClientCertHeader, Format: cfg.ClientCertFormat,
		TrustedProxies: cfg.TrustedProxies, Logger: s.log.With("component", "mtls")}
	if err := m.extractor.Check(); err != nil {
		return err
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		m.serverTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"}}
	}
	if cfg.MTLSAddr != "" && m.serverTLS == nil {
		return fmt.Errorf("mtls-addr needs a TLS certificate (tls-cert, tls-key)")
	}
	return nil
}

// listenMTLS opens the client-certificate listener, if configured. It asks
// every client for a certificate but verifies none at the handshake: a
// self_signed_tls_client_auth client's certificate has no CA, and each
// authentication method judges the certificate it needs.
func (s *Server) listenMTLS() (net.Listener, error) {
	if s.cfg.MTLSAddr == "" {
		return nil, nil
	}
	conf := s.machine.serverTLS.Clone()
	conf.ClientAuth = tls.RequestClientCert
	ln, err := net.Listen("tcp", s.cfg.MTLSAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.MTLSAddr, err)
	}
	return tls.NewListener(ln, conf), nil
}

// mtlsServer is the main server's twin for the client-certificate listener.
func (s *Server) mtlsServer(main *http.Server) *http.Server {
	return &http.Server{Handler: main.Handler, ReadTimeout: main.ReadTimeout, ReadHeaderTimeout: main.ReadHeaderTimeout,
		WriteTimeout: main.WriteTimeout, IdleTimeout: main.IdleTimeout, MaxHeaderBytes: main.MaxHeaderBytes,
		ErrorLog: main.ErrorLog}
}

// tick reloads the trusts every 30 seconds, a backstop for a missed change.
func (m *machine) tick(ctx context.Context, logErr func(error, string)) {
	if time.Since(m.lastReload) < 30*time.Second {
		return
	}
	m.lastReload = time.Now()
	logErr(m.federation.Reload(ctx), "reload trusts")
}

func (m *machine) close() {
	if m.replay != nil {
		m.replay.Close()
	}
}
