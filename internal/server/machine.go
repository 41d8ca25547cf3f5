package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/permiso-auth/permiso/internal/mtls"
)

// machine holds the server-wide part of what clients without shared
// secrets need: client CAs and TLS. Each tenant's used assertion ids,
// remote key sets and trusts are its runtime's (runtime.go).
type machine struct {
	clientCAs *x509.CertPool
	extractor mtls.Extractor
	serverTLS *tls.Config // nil: plain HTTP on Addr
}

// mtlsOn reports whether a client certificate can reach Permiso.
func (m *machine) mtlsOn(cfg Config) bool { return cfg.MTLSAddr != "" || cfg.ClientCertHeader != "" }

func (s *Server) initMachineShared() error {
	cfg, m := s.cfg, &s.machine
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
