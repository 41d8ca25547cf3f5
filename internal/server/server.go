package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/logthrottle"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/tenant"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
)

// Config is everything the server needs, translated from internal/config
// by cmd/permiso.
type Config struct {
	DataDir string
	Addr    string
	Issuer  string
	// APIAudience is an audience Permiso's own API accepts besides the
	// issuer (empty: the issuer only); every client may ask for it.
	APIAudience string
	DatabaseURL string // empty: SQLite in DataDir
	MasterKey   string // empty: the development key in DataDir
	Environment string
	Version     string

	SigningAlg      string
	KeyPublishDelay time.Duration
	KeyRetention    time.Duration

	TrustedProxies []netip.Prefix
	CORSOrigins    []string
	// OutboundAllow lists internal prefixes that outbound calls (webhooks,
	// jwks_uri) may reach; see internal/outbound.
	OutboundAllow   []netip.Prefix
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration // readiness false this long before the listener closes
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	MaxHeaderBytes  int

	SecretGrace time.Duration
	// UsageFlushInterval is how often client usage counters and the
	// aggregated token.issued audit events are written; default 5s.
	UsageFlushInterval time.Duration
	CacheTTL           time.Duration
	// StaleIfError is how long, while the database is unreachable, known
	// clients, scopes, roles and keys are served from memory, counted from
	// the last successful sync. Zero means the default, an hour; negative
	// turns it off.
	StaleIfError   time.Duration
	AuditRetention time.Duration
	// RevocationFeedAuth makes /oauth2/revocations require client
	// authentication; it is public by default.
	RevocationFeedAuth bool
	// DPoPNonce makes the token endpoint (and Permiso's API) require a
	// server-provided nonce in DPoP proofs (RFC 9449 §8); replicas share
	// nonces through a key derived from the master key.
	DPoPNonce bool
	// TxnTrustDomain turns transaction tokens on for that trust domain
	// (their aud); TxnTokenLifetime bounds them (default 60 s).
	TxnTrustDomain   string
	TxnTokenLifetime time.Duration

	// People (users, logins, sessions).
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	MaxLoginAttempts     int
	MaxUserLoginAttempts int // 0: 4 × MaxLoginAttempts (account.Config)
	LockoutDuration      time.Duration
	DefaultUserRole      string
	PasswordMinLength    int
	SMTPURL              string
	MailFrom             string

	// Operations.
	MetricsAddr        string
	PprofAddr          string // loopback only; enables /debug/pprof/
	RedisURL           string
	RedisPrefix        string
	AuthFailuresPerMin int

	// Machines without shared secrets (machine.go).
	TLSCertFile string // PEM certificate chain: serve HTTPS on Addr and MTLSAddr
	TLSKeyFile  string
	// MTLSAddr is the separate listener that asks for client certificates.
	MTLSAddr string
	// MTLSBaseURL is advertised as mtls_endpoint_aliases.
	MTLSBaseURL  string
	ClientCAFile string // roots of tls_client_auth certificates
	// ClientCertHeader and ClientCertFormat (nginx or xfcc) read a client
	// certificate forwarded by one of TrustedProxies.
	ClientCertHeader     string
	ClientCertFormat     string
	AssertionMaxLifetime time.Duration
	// ReplayStrict refuses private_key_jwt assertions while no shared
	// record of their jti answers.
	ReplayStrict bool
	// KeyRefetchInterval is the least time between two fetches of a
	// jwks_uri (or trust keys) caused by an unknown kid; default 1m.
	KeyRefetchInterval time.Duration

	// MaxTenantRuntimes bounds how many tenants (besides the default) are
	// loaded at once, the least recently used dropped first; default
	// 5,000. TenantIdle drops a tenant's runtime after that long without
	// a request; default an hour, negative never.
	MaxTenantRuntimes int
	TenantIdle        time.Duration

	Logger *slog.Logger
	// StoreHook, when set, wraps every tenant's store (the default's and
	// each other's as it loads) before the components use it; tests use
	// it to hold reads open or fail them.
	StoreHook func(store.Store) store.Store
	// Out receives the bootstrap credentials, printed once on first start.
	Out io.Writer
	// Now is the clock of every component that decides time (token
	// lifetimes, key rotation, lockouts, sessions, rate limits, caches,
	// purges); nil means time.Now. Tests advance it instead of sleeping.
	Now func() time.Time
	// After is the timer of the drain delay; nil means time.After. Tests
	// fire it to close the listener at a moment of their choosing.
	After func(time.Duration) <-chan time.Time
}

// defaults fills zero values, so tests and embedders may set only what
// they care about.
func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.KeyPublishDelay, 10*time.Minute)
	set(&c.KeyRetention, 25*time.Hour)
	set(&c.ShutdownTimeout, 15*time.Second)
	set(&c.ReadTimeout, 10*time.Second)
	set(&c.WriteTimeout, 15*time.Second)
	set(&c.IdleTimeout, 120*time.Second)
	set(&c.SecretGrace, 24*time.Hour)
	set(&c.UsageFlushInterval, 5*time.Second)
	set(&c.CacheTTL, 30*time.Second)
	set(&c.StaleIfError, time.Hour)
	set(&c.AccessTokenLifetime, 30*time.Minute)
	set(&c.RefreshTokenLifetime, 7*24*time.Hour)
	set(&c.LockoutDuration, 15*time.Minute)
	set(&c.TenantIdle, time.Hour)
	if c.MaxTenantRuntimes == 0 {
		c.MaxTenantRuntimes = 5000
	}
	if c.SigningAlg == "" {
		c.SigningAlg = "ES256"
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 16 << 10
	}
	if c.MaxLoginAttempts == 0 {
		c.MaxLoginAttempts = 5
	}
	if c.DefaultUserRole == "" {
		c.DefaultUserRole = "user"
	}
	if c.PasswordMinLength == 0 {
		c.PasswordMinLength = 8
	}
	if c.AuthFailuresPerMin == 0 {
		c.AuthFailuresPerMin = 30
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = "permiso:"
	}
	if c.Environment == "" {
		c.Environment = "development"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
}

// Server is an assembled Permiso.
type Server struct {
	cfg      Config
	log      *slog.Logger
	db       *sqlstore.DB
	master   []byte
	def      store.Store // the default tenant's store
	throttle *logthrottle.Handler
	// defaultRT is the default tenant's runtime, built at start; the
	// fields below are its, for the server's own endpoints (health,
	// metrics). tenants holds the others', built on demand.
	defaultRT *runtime
	tenants   *tenants
	store     *store.Cache
	keys      *keys.Manager
	revoked   *tokens.RevocationList
	provider  *oauth.Provider
	audit     *audit.Sink
	usage     *oauth.Usage
	handler   http.Handler
	ops       *ops
	machine   machine
	draining  atomic.Bool
	started   time.Time
}

// New opens the store, migrates it, prepares keys, seeds defaults and
// wires every component. Close releases what New opened if Run is not called.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	cfg.defaults()
	// The same failure during an outage is logged once per interval, with
	// a count, not once per request.
	throttle := logthrottle.New(cfg.Logger.Handler(), logthrottle.Config{Now: cfg.Now})
	cfg.Logger = slog.New(throttle)
	s := &Server{cfg: cfg, log: cfg.Logger, throttle: throttle, started: cfg.Now()}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	master, err := loadMasterKey(cfg.MasterKey, cfg.DataDir, func(msg string, args ...any) { s.log.Warn(msg, args...) })
	if err != nil {
		return nil, err
	}
	url := cfg.DatabaseURL
	if url == "" {
		url = cfg.DataDir + "/permiso.db"
	}
	if s.db, err = sqlstore.Open(ctx, sqlstore.Config{URL: url, Logger: s.log}); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.master = master
	if err := s.init(ctx); err != nil {
		if s.defaultRT != nil {
			s.defaultRT.stopFollow()
			s.defaultRT.replay.Close()
		}
		if s.ops != nil {
			s.ops.close()
		}
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// init migrates the database, builds the server-wide parts (rate limits,
// metrics, TLS and client CAs), the default tenant's runtime (runtime.go:
// every other tenant's is built the same way on its first request), and
// the edge that routes each request to its tenant, with the middleware
// around it.
func (s *Server) init(ctx context.Context) error {
	cfg := s.cfg
	if err := s.db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	s.def = s.db.Tenant(store.DefaultTenant)
	if cfg.StoreHook != nil {
		s.def = cfg.StoreHook(s.def)
	}
	var err error
	if s.ops, err = newOps(ctx, s); err != nil {
		return err
	}
	if err := s.initMachineShared(); err != nil {
		return err
	}
	info := tenant.Info{ID: store.DefaultTenant, Name: tenant.DefaultName, Issuer: cfg.Issuer}
	rt, err := s.newRuntime(ctx, info, s.def)
	if err != nil {
		return err
	}
	s.defaultRT = rt
	s.store, s.keys, s.revoked, s.provider, s.audit, s.usage = rt.store, rt.keys, rt.revoked, rt.provider, rt.audit, rt.usage
	// The server's own endpoints, and the tenants API, only at the root.
	s.mountHealth(rt.mux)
	s.ops.mount(rt.mux)
	rt.finish()
	s.tenants = newTenants(s)

	var h http.Handler = http.HandlerFunc(s.route)
	h = limitBodies(1<<20, h)
	h = cors(cfg.CORSOrigins, h)
	h = securityHeaders(strings.HasPrefix(cfg.Issuer, "https://"), h)
	h = s.machine.extractor.Wrap(h)
	h = observe(s.log, s.ops.requestDone, h)
	s.handler = web.IPResolver{TrustedProxies: cfg.TrustedProxies}.Edge(h)
	return nil
}

// Handler returns the server's HTTP handler (for in-process tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the database (and the metrics listener and limiter).
func (s *Server) Close() error {
	s.tenants.closeAll()
	s.defaultRT.stopFollow()
	s.ops.close()
	s.defaultRT.replay.Close()
	return s.db.Close()
}

// Run serves on cfg.Addr until ctx ends, then drains: readiness turns
// false, in-flight requests finish within ShutdownTimeout, queued audit
// events and usage counters are written, and the database is closed.
// ready, if not nil, is called with the bound address once listening.
func (s *Server) Run(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		s.tenants.closeAll()
		s.defaultRT.stopFollow()
		s.db.Close()
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	mtlsLn, err := s.listenMTLS()
	if err != nil {
		ln.Close()
		s.tenants.closeAll()
		s.defaultRT.stopFollow()
		s.db.Close()
		return err
	}
	if s.machine.serverTLS != nil {
		ln = tls.NewListener(ln, s.machine.serverTLS)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadTimeout:       s.cfg.ReadTimeout,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	// The audit sink outlives everything that records into it, so the
	// final usage flush and the last requests' events are written.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() { s.audit.Run(auditCtx); close(auditDone) }()
	wg.Go(func() { s.usage.Run(bg, s.cfg.UsageFlushInterval) })
	wg.Go(func() { s.store.Run(bg) })
	wg.Go(func() { s.defaultRT.follow(bg, s.logErr) })
	if err := s.tenants.fan.follow(func(c store.Change) { s.tenants.onChange(bg, c) }); err != nil {
		s.log.Error("subscribe to tenant changes", "err", err)
	}
	wg.Go(func() { s.housekeeping(bg) })
	wg.Go(func() { s.ops.run(bg) })

	if s.cfg.PprofAddr != "" {
		stopProfiler, err := serveProfiler(s.cfg.PprofAddr, s.log)
		if err != nil {
			s.log.Warn("profiler not started", "err", err)
		} else {
			defer stopProfiler()
		}
	}
	wg.Go(func() { s.defaultRT.replay.Run(bg, time.Minute) })
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	var mtlsSrv *http.Server
	if mtlsLn != nil {
		mtlsSrv = s.mtlsServer(srv)
		go func() { serveErr <- mtlsSrv.Serve(mtlsLn) }()
		s.log.Info("client-certificate listener", "addr", mtlsLn.Addr().String(), "mtls_base_url", s.cfg.MTLSBaseURL)
	}
	s.log.Info("permiso serving", "addr", ln.Addr().String(), "issuer", s.cfg.Issuer, "database", s.db.Dialect(),
		"startup", time.Since(s.started).Round(time.Millisecond).String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err = <-serveErr:
	case <-ctx.Done():
		s.draining.Store(true)
		s.log.Info("draining: readiness is false; press Ctrl-C again to exit at once", "delay", s.cfg.DrainDelay.String(), "timeout", s.cfg.ShutdownTimeout.String())
		// Keep serving while readiness says no, so a load balancer takes
		// this replica out before connections are refused.
		if s.cfg.DrainDelay > 0 {
			<-s.cfg.After(s.cfg.DrainDelay)
		}
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		if mtlsSrv != nil {
			go mtlsSrv.Shutdown(sctx)
		}
		err = srv.Shutdown(sctx)
		cancel()
		if err != nil {
			srv.Close()
		}
		if mtlsSrv != nil {
			mtlsSrv.Close()
		}
	}
	stopBG()
	wg.Wait()
	s.tenants.closeAll()
	s.defaultRT.stopFollow()
	if mtlsSrv != nil {
		mtlsSrv.Close()
	}
	stopAudit()
	<-auditDone
	s.defaultRT.replay.Close()
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.log.Info("stopped")
	return err
}

// housekeeping runs the periodic backstops: revocation sync, the key
// schedule, and purges of expired rows.
func (s *Server) housekeeping(ctx context.Context) {
	fast := time.NewTicker(5 * time.Second)
	slow := time.NewTicker(time.Hour)
	defer fast.Stop()
	defer slow.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-fast.C:
			s.defaultRT.tick(ctx, s.logErr)
			s.throttle.Flush(ctx)
		case <-slow.C:
			now := s.cfg.Now()
			var auditBefore time.Time
			if s.cfg.AuditRetention > 0 {
				auditBefore = now.Add(-s.cfg.AuditRetention)
			}
			_, err := s.db.PurgeExpired(ctx, now, auditBefore)
			s.logErr(err, "purge expired rows")
			_, err = s.db.PurgeTenants(ctx, now)
			s.logErr(err, "purge deleted tenants")
			s.tenants.evictIdle(now, s.cfg.TenantIdle)
		}
	}
}

func (s *Server) logErr(err error, what string) {
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn(what, "err", err)
	}
}

// Migrate opens the database, applies migrations and closes it.
func Migrate(ctx context.Context, cfg Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil && cfg.DatabaseURL == "" {
		return fmt.Errorf("create data directory: %w", err)
	}
	url := cfg.DatabaseURL
	if url == "" {
		url = cfg.DataDir + "/permiso.db"
	}
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: url, Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	return db.Migrate(ctx)
}

// apiAudiences are the audiences of Permiso's own API besides the issuer.
func apiAudiences(cfg Config) []string {
	if cfg.APIAudience == "" || cfg.APIAudience == cfg.Issuer {
		return nil
	}
	return []string{cfg.APIAudience}
}
