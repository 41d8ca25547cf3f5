package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/api"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/console"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/replay"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/tenant"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
)

// runtime is one tenant's instance of the protocol: its store handle,
// cache, signing keys, revocation list, token endpoint, API and console,
// all built by newRuntime from the same code for every tenant, the default
// one included. Nothing in it is shared with another tenant's runtime, so
// no lookup of one tenant can be answered by another's entry.
type runtime struct {
	info tenant.Info
	st   store.Store // the tenant's own store handle

	store      *store.Cache
	keys       *keys.Manager
	revoked    *tokens.RevocationList
	provider   *oauth.Provider
	audit      *audit.Sink
	usage      *oauth.Usage
	replay     *replay.Records
	remoteKeys *remotekeys.Cache
	federation *federation.Federation
	secrets    *oauth.Secrets
	accounts   *account.Service
	userTokens *oauth.UserTokens
	mux        *http.ServeMux
	lastReload time.Time // of the trusts, by tick

	// stopFollow ends the cache's subscription to changes.
	stopFollow context.CancelFunc

	// Set for tenants other than the default, whose background work the
	// runtime runs itself (the default tenant's is Server.Run's).
	stop context.CancelFunc
	done sync.WaitGroup
	used atomic.Int64 // unix nanoseconds of the last request
	// inflight counts the requests using the runtime (enter, leave);
	// closing is set in it when close begins, after which none enters,
	// and the last to leave then closes idle.
	inflight  atomic.Int64
	idle      chan struct{}
	closeOnce sync.Once
	record    atomic.Pointer[store.Tenant]
}

// secretLabel is the label under which a per-tenant secret is derived from
// the master key. The default tenant keeps the labels it had before
// tenants, so its secrets (client-secret pepper, console secret, form
// keys) do not change; another tenant's carry its id, so no derived value
// is shared between tenants.
func secretLabel(info tenant.Info, label string) string {
	if info.Default() {
		return label
	}
	return label + "/tenant/" + info.ID
}

// newRuntime builds the runtime of the tenant info on st: it seeds what a
// new tenant needs (scopes, roles, first-party clients, a signing key; the
// bootstrap admin client in the default tenant), loads the tenant's keys,
// clients, scopes, roles, revocations and trusts, and wires every
// component in dependency order: storage and keys; audit and usage; tokens
// and the people behind user tokens; the grants; the protocol
// (oauth.Provider), which takes every grant and what client authentication
// needs here; the API and the console on top; then the routes.
func (s *Server) newRuntime(ctx context.Context, info tenant.Info, st store.Store) (rt *runtime, err error) {
	cfg := s.cfg
	rt = &runtime{info: info, st: st}
	issuer := info.Issuer
	log := s.log
	if !info.Default() {
		log = log.With("tenant", info.Name)
	}
	rt.store = store.NewCache(st, store.CacheConfig{TTL: cfg.CacheTTL, StaleIfError: cfg.StaleIfError, Now: cfg.Now,
		Logger: log.With("component", "cache")})
	if rt.keys, err = keys.New(keys.Config{Store: st, MasterKey: s.master, Alg: cfg.SigningAlg,
		PublishDelay: cfg.KeyPublishDelay, RetainFor: cfg.KeyRetention, Logger: log, Now: cfg.Now}); err != nil {
		return nil, err
	}
	if err := rt.keys.Init(ctx); err != nil {
		return nil, err
	}
	if err := rbac.Seed(ctx, rt.store); err != nil {
		return nil, err
	}
	pepper, err := keys.DeriveKey(s.master, secretLabel(info, "client-secret pepper"))
	if err != nil {
		return nil, err
	}
	rt.secrets = oauth.NewSecrets(pepper, nil)
	if info.Default() {
		if err := seedOperatorScope(ctx, rt.store); err != nil {
			return nil, err
		}
		if err := bootstrapAdmin(ctx, rt.store, rt.secrets, cfg.DataDir, cfg.Out, s.log); err != nil {
			return nil, err
		}
	}
	// Every client, scope and role in memory, so unknown client_ids are
	// answered without the database and an outage is ridden out. Changes
	// are followed from before the load, so none made meanwhile is lost.
	var follow context.Context
	follow, rt.stopFollow = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			rt.stopFollow()
		}
	}()
	if err := rt.store.Follow(follow); err != nil {
		return nil, err
	}
	if err := rt.store.Load(ctx); err != nil {
		return nil, err
	}
	rt.revoked = tokens.NewRevocationList(tokens.RevocationConfig{Store: st, Logger: log, Issuer: issuer, Now: cfg.Now})
	if err := rt.revoked.Reload(ctx); err != nil {
		return nil, err
	}

	// Audit log and usage counters of the tenant; rate limits and metrics
	// are the server's, with the tenant in every limiter key.
	auditCfg := audit.Config{Store: st, Logger: log.With("component", "audit"), Now: cfg.Now}
	if !info.Default() {
		// A thousand tenants must not each hold the default's queue.
		auditCfg.QueueSize, auditCfg.BatchSize = 64, 64
	}
	rt.audit = audit.NewSink(auditCfg)
	rt.usage = oauth.NewUsage(st, rt.audit, log, cfg.Now)
	var limiter oauth.Limiter
	var rateLimits api.RateLimits
	if s.ops.limit != nil {
		l := tenantLimiter(s.ops.limit, info)
		limiter, rateLimits = l, l
	}
	observer := s.ops.observer()

	// Access tokens, and the people behind user tokens.
	tok := tokens.New(tokens.Config{Keys: rt.keys, Issuer: issuer, Now: cfg.Now})
	var own []string
	if info.Default() {
		own = apiAudiences(cfg)
	}
	minter := oauth.Minter{Issuer: issuer, APIAudiences: own, Tokens: tok}
	accounts, err := s.newAccounts(rt, log)
	if err != nil {
		return nil, err
	}
	rt.accounts = accounts
	if rt.userTokens, err = oauth.NewUserTokens(oauth.UserTokensConfig{Minter: minter, Store: rt.store, Accounts: accounts,
		Audit: rt.audit, Limiter: limiter, Observer: observer, Logger: log, Now: cfg.Now,
		AccessTokenLifetime: cfg.AccessTokenLifetime, RefreshTokenLifetime: cfg.RefreshTokenLifetime,
		Sessions: rt.revoked}); err != nil {
		return nil, err
	}
	if err := rt.userTokens.EnsureFirstPartyClient(ctx); err != nil {
		return nil, err
	}
	authz, err := s.newAuthorize(rt, minter, limiter, accounts, rt.userTokens, log)
	if err != nil {
		return nil, err
	}

	// Clients without shared secrets: used assertion ids, remote keys,
	// trusts (machine.go has the server-wide client CAs and TLS).
	if err := s.initMachine(ctx, rt, log); err != nil {
		return nil, err
	}
	// Token exchange (RFC 8693) and transaction tokens verify subject
	// tokens with the same path as the provider (and external ones with
	// the trusts), and remember exchanged tokens in the replay records.
	exchange, err := oauth.NewExchange(oauth.ExchangeConfig{Minter: minter, Roots: rt.replay, Federation: rt.federation,
		Verifier: oauth.AccessVerifier{Tokens: tok, Revocations: rt.revoked, Clients: rt.store, Subjects: accounts},
		Users:    rt.store, TrustDomain: cfg.TxnTrustDomain, TxnLifetime: cfg.TxnTokenLifetime,
		Audit: rt.audit, Logger: log, Now: cfg.Now})
	if err != nil {
		return nil, err
	}

	// The protocol, with every grant beyond client_credentials.
	nonceKey, err := keys.DeriveKey(s.master, secretLabel(info, "dpop nonce"))
	if err != nil {
		return nil, err
	}
	m := &s.machine
	rt.provider = oauth.New(oauth.Config{Issuer: issuer, APIAudiences: own, Store: rt.store, Tokens: tok, Revocations: rt.revoked,
		DPoP: oauth.DPoPConfig{Nonce: cfg.DPoPNonce, NonceSecret: nonceKey},
		Keys: rt.keys, Secrets: rt.secrets, Audit: rt.audit, Usage: rt.usage, Logger: log, Now: cfg.Now,
		Limiter: limiter, Observer: observer, FeedRequiresAuth: cfg.RevocationFeedAuth,
		Grants:        append(rt.userTokens.Grants(), authz.Grant(), exchange.Grant()),
		Subjects:      accounts,
		RefreshTokens: rt.userTokens,
		// The authorize handler serves /oauth2/authorize (mounted below).
		AuthorizationEndpoint: true,
		Replay:                rt.replay, RemoteKeys: rt.remoteKeys, Federation: rt.federation, ClientCAs: m.clientCAs,
		MTLS: m.mtlsOn(cfg), MTLSBaseURL: mtlsBase(cfg.MTLSBaseURL, info), MaxAssertionLifetime: cfg.AssertionMaxLifetime,
	})
	hooks, err := newWebhooks(s.master, secretLabel(info, "webhook secrets"), cfg.OutboundAllow, cfg.Now)
	if err != nil {
		return nil, err
	}
	var tenantsAPI api.Tenants
	if info.Default() {
		tenantsAPI = tenantAdmin{s}
	}
	a := api.New(api.Config{Audiences: append([]string{issuer}, own...), Store: rt.store, OAuth: rt.provider, Tokens: tok, Limiter: limiter, Keys: rt.keys,
		Revocations: rt.revoked, Secrets: rt.secrets, Audit: rt.audit, Logger: log, Now: cfg.Now, Version: cfg.Version,
		Environment: cfg.Environment, DefaultSecretGrace: cfg.SecretGrace,
		People:   api.PeopleConfig{Accounts: accounts, Tokens: rt.userTokens, Started: s.started},
		Webhooks: hooks, RateLimits: rateLimits,
		RemoteKeys: rt.remoteKeys, Federation: rt.federation, Tenants: tenantsAPI})

	// Routes. The console calls the same mux in-process. The server's own
	// endpoints (health, metrics) and the tenants API are the server's,
	// mounted on the default tenant's mux by init.
	rt.mux = http.NewServeMux()
	rt.provider.Mount(rt.mux)
	if info.Default() {
		a.Mount(rt.mux)
	} else {
		// The API's routes are most of a runtime's memory, and most
		// tenants' token clients never call it: mount them on first use.
		rt.mux.Handle("/api/", &lazyHandler{build: func(context.Context) (http.Handler, error) {
			m := http.NewServeMux()
			a.Mount(m)
			m.Handle("/", web.NotFoundHandler(m))
			return m, nil
		}})
	}
	authz.Mount(rt.mux)
	var adminConsole http.Handler
	if info.Default() {
		if adminConsole, err = s.newConsole(ctx, rt, rt.mux, log); err != nil {
			return nil, err
		}
	} else {
		// Most tenants' consoles are never opened: build one on first use.
		adminConsole = &lazyHandler{build: func(ctx context.Context) (http.Handler, error) {
			return s.newConsole(ctx, rt, rt.mux, log)
		}}
	}
	rt.mux.Handle(console.Path, adminConsole)
	rt.mux.Handle(console.Path+"/", adminConsole)
	return rt, nil
}

// lazyHandler builds its handler on the first request; a failed build is
// tried again on the next.
type lazyHandler struct {
	mu    sync.Mutex
	h     http.Handler
	build func(ctx context.Context) (http.Handler, error)
}

func (l *lazyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	if l.h == nil {
		h, err := l.build(context.WithoutCancel(r.Context()))
		if err != nil {
			l.mu.Unlock()
			web.WriteError(w, r, nil, web.Unavailable(err))
			return
		}
		l.h = h
	}
	h := l.h
	l.mu.Unlock()
	h.ServeHTTP(w, r)
}

// finish adds the not-found handler, after every route is mounted.
func (rt *runtime) finish() {
	rt.mux.Handle("/", web.NotFoundHandler(rt.mux))
}

// mtlsBase is the base of the mtls_endpoint_aliases of the tenant.
func mtlsBase(base string, info tenant.Info) string {
	if base == "" {
		return ""
	}
	return tenant.Issuer(base, info.Name)
}

// initMachine builds the tenant's part of what clients without shared
// secrets need: its record of used assertion ids, remote key sets and
// trusts.
func (s *Server) initMachine(ctx context.Context, rt *runtime, log *slog.Logger) error {
	cfg := s.cfg
	var err error
	// On SQLite this process owns the file: its memory decides and the
	// database keeps the records across restarts.
	sole := s.db.Dialect() == sqlstore.DialectSQLite
	prefix := cfg.RedisPrefix
	if !rt.info.Default() {
		prefix += "t/" + rt.info.ID + ":"
	}
	if rt.replay, err = replay.New(replay.Config{Store: rt.st, RedisURL: cfg.RedisURL, RedisPrefix: prefix,
		Strict: cfg.ReplayStrict, SoleUser: sole, Horizon: max(cfg.AssertionMaxLifetime, 5*time.Minute) + time.Minute,
		Logger: log.With("component", "replay"), Now: cfg.Now}); err != nil {
		return fmt.Errorf("replay records: %w", err)
	}
	// Key sets are small: a tighter body limit than webhooks get.
	keyClient := outbound.New(outbound.Config{Timeout: 5 * time.Second, MaxBodyBytes: 256 << 10, Allow: cfg.OutboundAllow})
	rt.remoteKeys = remotekeys.New(remotekeys.Config{Client: keyClient, RefetchInterval: cfg.KeyRefetchInterval,
		Logger: log.With("component", "remotekeys"), Now: cfg.Now})
	rt.federation = federation.New(federation.Config{Store: rt.st, Keys: rt.remoteKeys, Issuer: rt.info.Issuer,
		Logger: log.With("component", "federation"), Now: cfg.Now})
	if err := rt.federation.Reload(ctx); err != nil {
		rt.replay.Close()
		return err
	}
	rt.lastReload = time.Now()
	return nil
}

// follow applies changes announced by other replicas (and this one) to
// the in-memory revocation list and keys. A full reload of the revocation
// list runs on its own goroutine, so the changes announced meanwhile are
// still applied to the list that answers until the reload swaps in.
func (rt *runtime) follow(ctx context.Context, logErr func(error, string)) {
	reload := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-reload:
				logErr(rt.revoked.Reload(ctx), "reload revocations")
			}
		}
	})
	err := rt.st.Subscribe(ctx, func(c store.Change) {
		switch c.Kind {
		case store.ChangeRevocation:
			logErr(rt.revoked.Sync(ctx), "sync revocations")
		case store.ChangeKey:
			logErr(rt.keys.Reload(ctx), "reload keys")
		case store.ChangeTrust:
			logErr(rt.federation.Reload(ctx), "reload trusts")
		case "*":
			// Notifications were missed, perhaps by a database that failed
			// over: reload aside; the current list answers until then.
			logErr(rt.keys.Reload(ctx), "reload keys")
			select {
			case reload <- struct{}{}:
			default: // one is queued already
			}
		}
	})
	if err != nil {
		logErr(err, "subscribe to changes")
	}
	<-ctx.Done()
	wg.Wait()
}

// tick is the runtime's share of the periodic backstops: revocation sync,
// the key schedule and, every 30 seconds, the trusts.
func (rt *runtime) tick(ctx context.Context, logErr func(error, string)) {
	logErr(rt.revoked.Sync(ctx), "sync revocations")
	logErr(rt.keys.Tick(ctx), "key schedule")
	if time.Since(rt.lastReload) >= 30*time.Second {
		rt.lastReload = time.Now()
		logErr(rt.federation.Reload(ctx), "reload trusts")
	}
}

// start runs the background work of a tenant other than the default:
// what Server.Run does for the default tenant, until close.
func (rt *runtime) start(parent context.Context, s *Server) {
	ctx, cancel := context.WithCancel(parent)
	bg, stopBG := context.WithCancel(ctx)
	rt.stop = func() { stopBG(); cancel() }
	rt.idle = make(chan struct{})
	auditDone := make(chan struct{})
	// The audit sink outlives the rest, so their last events are written.
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	go func() { rt.audit.Run(auditCtx); close(auditDone) }()
	var wg sync.WaitGroup
	wg.Go(func() { rt.usage.Run(bg, s.cfg.UsageFlushInterval) })
	wg.Go(func() { _ = rt.store.Run(bg) })
	wg.Go(func() { rt.follow(bg, s.logErr) })
	wg.Go(func() { rt.replay.Run(bg, time.Minute) })
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				rt.tick(bg, s.logErr)
			}
		}
	})
	rt.done.Go(func() {
		<-ctx.Done()
		wg.Wait()
		rt.stopFollow()
		stopAudit()
		<-auditDone
		rt.replay.Close()
	})
}

// closing is the bit of runtime.inflight set once close begins.
const closing = 1 << 62

// closeWait bounds how long close waits for requests still using the
// runtime (the server's own timeouts end them well before).
const closeWait = 5 * time.Minute

// enter counts a request using rt; false if rt is closing, and then the
// caller loads the tenant again.
func (rt *runtime) enter() bool {
	for {
		n := rt.inflight.Load()
		if n&closing != 0 {
			return false
		}
		if rt.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// leave ends what enter began.
func (rt *runtime) leave() {
	if rt.inflight.Add(-1) == closing {
		close(rt.idle)
	}
}

// busy reports whether a request is using rt.
func (rt *runtime) busy() bool { return rt.inflight.Load()&^closing != 0 }

// close waits for the requests using rt to end (until hurry is closed,
// or closeWait), then stops what start started and waits for it: queued
// audit events and usage counters are written first.
func (rt *runtime) close(hurry <-chan struct{}) {
	if rt.stop == nil {
		return
	}
	rt.closeOnce.Do(func() {
		if n := rt.inflight.Or(closing); n != 0 {
			t := time.NewTimer(closeWait)
			select {
			case <-rt.idle:
			case <-hurry:
			case <-t.C:
			}
			t.Stop()
		}
		rt.stop()
		rt.done.Wait()
	})
}
