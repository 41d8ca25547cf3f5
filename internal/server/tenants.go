package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/api"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/ratelimit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tenant"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// limiter is what a runtime needs of the rate limiter.
type limiter interface {
	oauth.Limiter
	api.RateLimits
}

// tenantLimiter is the rate limiter of the tenant info: the server's, with
// the tenant in every key (the default tenant keeps the keys it had).
func tenantLimiter(l *ratelimit.Limiter, info tenant.Info) limiter {
	if info.Default() {
		return l
	}
	return l.Scope(info.ID)
}

// tenants is the registry of the runtimes of tenants other than the
// default: each is built on the first request that names its tenant,
// kept while used, and dropped after TenantIdle without a request or when
// more than MaxTenantRuntimes are loaded (the least recently used first).
type tenants struct {
	s   *Server
	fan *fanout
	// life bounds the background work of every runtime; Close ends it.
	life context.Context
	end  context.CancelFunc
	// retiring counts the runtimes being closed after an eviction, which
	// wait for their last requests; hurry cuts that wait short on
	// shutdown.
	retiring sync.WaitGroup
	hurry    context.Context
	rush     context.CancelFunc

	mu       sync.RWMutex
	byName   map[string]*runtime
	building map[string]*build
	unknown  map[string]int64         // name -> unix nanos until which it is known not to exist
	gone     map[string]*store.Tenant // tombstones among the unknown names
	// misses counts, per second, the names read from the database that
	// named no tenant: past maxMissesPerSecond, names not loaded are not
	// read until the next second, so a flood of made-up tenant names does
	// not become a flood of database reads (loading real tenants, however
	// many, is not slowed).
	missSecond int64
	misses     int
}

// maxMissesPerSecond bounds the database reads of names that name no
// tenant.
const maxMissesPerSecond = 50

type build struct {
	done chan struct{}
	rt   *runtime
	err  error
}

// errNoTenant is a name that names no live tenant.
var errNoTenant = errors.New("no such tenant")

// deletedError is the tombstone of a deleted tenant whose name is still
// reserved: its feed and an empty key set are still served.
type deletedError struct{ t *store.Tenant }

func (e *deletedError) Error() string { return "tenant deleted" }
func (e *deletedError) Unwrap() error { return errNoTenant }

// errLookupsBusy: too many names that name no tenant were asked for this
// second.
var errLookupsBusy = errors.New("too many tenant lookups")

// maxUnknown bounds the memory of names known not to exist.
const maxUnknown = 4096

func newTenants(s *Server) *tenants {
	life, end := context.WithCancel(context.Background())
	hurry, rush := context.WithCancel(context.Background())
	return &tenants{s: s, fan: newFanout(s.db), life: life, end: end, hurry: hurry, rush: rush,
		byName: map[string]*runtime{}, building: map[string]*build{}, unknown: map[string]int64{},
		gone: map[string]*store.Tenant{}}
}

// get returns the runtime of the tenant named name, building it if it is
// not loaded. errNoTenant means there is no such tenant (or it is deleted).
func (ts *tenants) get(ctx context.Context, name string) (*runtime, error) {
	if tenant.ValidName(name) != nil {
		return nil, errNoTenant
	}
	now := ts.s.cfg.Now().UnixNano()
	// Every request of a loaded tenant takes only the read lock.
	ts.mu.RLock()
	rt, ok := ts.byName[name]
	ts.mu.RUnlock()
	if ok {
		rt.used.Store(now)
		return rt, nil
	}
	ts.mu.Lock()
	if rt, ok := ts.byName[name]; ok {
		ts.mu.Unlock()
		rt.used.Store(now)
		return rt, nil
	}
	if until, ok := ts.unknown[name]; ok && now < until {
		gone := ts.gone[name]
		ts.mu.Unlock()
		if gone != nil {
			return nil, &deletedError{gone}
		}
		return nil, errNoTenant
	}
	b, ok := ts.building[name]
	if !ok {
		sec := now / int64(time.Second)
		if sec != ts.missSecond {
			ts.missSecond, ts.misses = sec, 0
		}
		if ts.misses >= maxMissesPerSecond {
			ts.mu.Unlock()
			return nil, errLookupsBusy
		}
		b = &build{done: make(chan struct{})}
		ts.building[name] = b
		ts.mu.Unlock()
		// The build outlives the request that asked for it: others wait
		// for it too.
		b.rt, b.err = ts.load(context.WithoutCancel(ctx), name)
		ts.mu.Lock()
		delete(ts.building, name)
		switch {
		case b.err == nil:
			b.rt.used.Store(now)
			ts.byName[name] = b.rt
			ts.evictLocked(ts.s.cfg.MaxTenantRuntimes)
		case errors.Is(b.err, errNoTenant):
			if len(ts.unknown) >= maxUnknown {
				clear(ts.unknown)
				clear(ts.gone)
			}
			ts.unknown[name] = now + int64(5*time.Second)
			if sec == ts.missSecond {
				ts.misses++
			}
			var d *deletedError
			if errors.As(b.err, &d) {
				ts.gone[name] = d.t
			} else {
				delete(ts.gone, name)
			}
		}
		ts.mu.Unlock()
		close(b.done)
	} else {
		ts.mu.Unlock()
		select {
		case <-b.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return b.rt, b.err
}

// use is get for a caller that works with the runtime: it counts as in
// use until the caller calls leave, and a runtime evicted meanwhile is
// closed only after that, so what the request queues (audit events, usage)
// is written, not dropped with the runtime.
func (ts *tenants) use(ctx context.Context, name string) (*runtime, error) {
	for range 3 {
		rt, err := ts.get(ctx, name)
		if err != nil || rt.enter() {
			return rt, err
		}
		// Evicted between get and enter: get builds it again.
	}
	return nil, errLookupsBusy
}

// load reads the tenant named name and builds its runtime.
func (ts *tenants) load(ctx context.Context, name string) (*runtime, error) {
	if tenant.ValidName(name) != nil {
		return nil, errNoTenant
	}
	t, err := ts.s.db.GetTenantByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNoTenant
	}
	if err == nil && t.Deleted() {
		return nil, &deletedError{&t}
	}
	if err != nil {
		return nil, err
	}
	return ts.build(ctx, t)
}

// build builds and starts the runtime of t.
func (ts *tenants) build(ctx context.Context, t store.Tenant) (*runtime, error) {
	info := tenant.Info{ID: t.ID, Name: t.Name, Issuer: tenant.Issuer(ts.s.cfg.Issuer, t.Name)}
	var st store.Store = fannedStore{Store: ts.s.db.Tenant(t.ID), fan: ts.fan, id: t.ID}
	if ts.s.cfg.StoreHook != nil {
		st = ts.s.cfg.StoreHook(st)
	}
	rt, err := ts.s.newRuntime(ctx, info, st)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.Name, err)
	}
	rt.finish()
	rt.setRecord(t)
	rt.start(ts.life, ts.s)
	return rt, nil
}

// loaded returns the runtime of the tenant id if it is loaded.
func (ts *tenants) loaded(id string) *runtime {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, rt := range ts.byName {
		if rt.info.ID == id {
			return rt
		}
	}
	return nil
}

// forget forgets that the name was unknown (a tenant was created).
func (ts *tenants) forget(name string) {
	ts.mu.Lock()
	delete(ts.unknown, name)
	ts.mu.Unlock()
}

// drop unloads the runtime of the tenant named name, if loaded, and
// forgets that a name was unknown (a tenant was created or deleted).
func (ts *tenants) drop(name string) {
	ts.mu.Lock()
	rt := ts.byName[name]
	delete(ts.byName, name)
	delete(ts.unknown, name)
	delete(ts.gone, name)
	ts.mu.Unlock()
	if rt != nil {
		ts.retire(rt)
	}
}

// retire closes rt, no longer reachable, in the background: once its last
// request ends, or at once on shutdown.
func (ts *tenants) retire(rt *runtime) {
	if ts.hurry.Err() != nil {
		// Built by a request that outlived shutdown: closeAll does not
		// wait for it.
		go rt.close(ts.hurry.Done())
		return
	}
	ts.retiring.Go(func() { rt.close(ts.hurry.Done()) })
}

// evictLocked drops the least recently used runtimes beyond max.
func (ts *tenants) evictLocked(max int) {
	for max > 0 && len(ts.byName) > max {
		var oldest *runtime
		for _, rt := range ts.byName {
			if oldest == nil || rt.used.Load() < oldest.used.Load() {
				oldest = rt
			}
		}
		delete(ts.byName, oldest.info.Name)
		ts.retire(oldest)
	}
}

// evictIdle drops the runtimes unused for longer than idle.
func (ts *tenants) evictIdle(now time.Time, idle time.Duration) {
	if idle <= 0 {
		return
	}
	cut := now.Add(-idle).UnixNano()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for name, rt := range ts.byName {
		// A request that has outlasted idle keeps its runtime.
		if rt.used.Load() < cut && !rt.busy() {
			delete(ts.byName, name)
			ts.retire(rt)
		}
	}
}

// onChange follows tenant records changed anywhere: a tenant disabled,
// enabled or deleted on another replica is refused (or served) here too.
func (ts *tenants) onChange(ctx context.Context, c store.Change) {
	if c.Kind != store.ChangeTenant && c.Kind != "*" {
		return
	}
	ts.mu.Lock()
	var rts []*runtime
	for _, rt := range ts.byName {
		if c.Kind == "*" || rt.info.ID == c.ID {
			rts = append(rts, rt)
		}
	}
	if c.Kind == store.ChangeTenant {
		clear(ts.unknown) // the name of a new tenant may be there
		clear(ts.gone)
	}
	ts.mu.Unlock()
	for _, rt := range rts {
		t, err := ts.s.db.GetTenant(ctx, rt.info.ID)
		if errors.Is(err, store.ErrNotFound) || err == nil && t.Deleted() {
			ts.drop(rt.info.Name)
			continue
		}
		if err != nil {
			ts.s.logErr(err, "reload tenant")
			continue
		}
		rt.setRecord(t)
	}
}

// closeAll stops every runtime, writing what they queued.
func (ts *tenants) closeAll() {
	ts.mu.Lock()
	rts := make([]*runtime, 0, len(ts.byName))
	for _, rt := range ts.byName {
		rts = append(rts, rt)
	}
	clear(ts.byName)
	ts.mu.Unlock()
	// The HTTP server has waited for requests already: what still runs
	// is not waited for again.
	for _, rt := range rts {
		ts.retire(rt)
	}
	ts.rush()
	ts.retiring.Wait()
	ts.end()
	ts.fan.close()
}

// setRecord keeps the tenant's record, and refuses the tokens it issued
// before TokensValidAfter (set when it was disabled).
func (rt *runtime) setRecord(t store.Tenant) {
	rt.record.Store(&t)
	if t.TokensValidAfter != nil {
		rt.revoked.SetIssuedBefore(*t.TokensValidAfter)
	}
}

// servedWhileDisabled are the paths a disabled tenant still answers, so
// resource servers keep its keys and learn from its feed that its tokens
// are revoked.
var servedWhileDisabled = map[string]bool{
	oauth.PathMetadata:       true,
	oauth.PathOpenIDMetadata: true,
	oauth.PathJWKS:           true,
	oauth.PathRevocations:    true,
}

// route is the edge: it decides the tenant of the request from its path,
// and only from it (docs/tenants.md), and hands the request to that
// tenant's runtime with the tenant's prefix stripped.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	rt, ok := tenant.Split(r.URL.Path)
	if !ok {
		if strings.Contains(r.URL.Path, tenant.PathPrefix) || strings.HasSuffix(r.URL.Path, "/t") {
			// A path that is not clean and may name a tenant: what it names
			// depends on who cleans it, so nobody serves it.
			web.WriteError(w, r, nil, web.Errorf(http.StatusBadRequest, "invalid_request", "Invalid path"))
			return
		}
		// The default tenant's mux redirects it to its clean form, as
		// before tenants.
		s.defaultRT.mux.ServeHTTP(w, r)
		return
	}
	if rt.Name == "" {
		s.defaultRT.mux.ServeHTTP(w, r)
		return
	}
	run, err := s.tenants.use(r.Context(), rt.Name)
	if err != nil {
		var d *deletedError
		if errors.As(err, &d) && r.Method == http.MethodGet {
			switch rt.Path {
			case oauth.PathRevocations:
				s.tombstoneFeed(w, d.t, rt.Name)
				return
			case oauth.PathJWKS:
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Cache-Control", "no-store")
				io.WriteString(w, `{"keys":[]}`+"\n")
				return
			}
		}
		if errors.Is(err, errNoTenant) {
			web.WriteError(w, r, nil, web.NotFound("Not found"))
			return
		}
		if !errors.Is(err, errLookupsBusy) {
			s.logErr(err, "load tenant")
		}
		web.WriteError(w, r, nil, &web.Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "The tenant cannot be loaded now; try again"})
		return
	}
	defer run.leave()
	if rec := run.record.Load(); rec != nil && !rec.Active && !servedWhileDisabled[rt.Path] {
		web.WriteError(w, r, nil, web.Errorf(http.StatusForbidden, "access_denied", "This tenant is disabled"))
		return
	}
	r2 := r.WithContext(tenant.NewContext(r.Context(), run.info))
	u := *r.URL
	u.Path, u.RawPath = rt.Path, ""
	r2.URL = &u
	if browserPath(rt.Path) {
		pw := &prefixWriter{ResponseWriter: w, prefix: tenant.PathPrefix + rt.Name}
		run.mux.ServeHTTP(pw, r2)
		pw.finish()
		return
	}
	run.mux.ServeHTTP(w, r2)
}

// tombstoneFeed is the revocation feed of a deleted tenant until its name
// is freed: one iss entry revoking every token it issued, so a resource
// server that follows the feed refuses them at once.
func (s *Server) tombstoneFeed(w http.ResponseWriter, t *store.Tenant, name string) {
	exp := t.DeletedAt.Unix()
	if t.PurgeAfter != nil {
		exp = t.PurgeAfter.Unix()
	}
	f := wire.RevocationFeed{Type: wire.FeedSnapshot, Cursor: "deleted-" + strconv.FormatInt(t.DeletedAt.Unix(), 10),
		Entries: []wire.RevocationEntry{{Kind: wire.RevokeIssuer, Value: tenant.Issuer(s.cfg.Issuer, name), Exp: exp,
			Before: t.DeletedAt.Unix() + 1}}}
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, f)
}

// fannedStore is a tenant's store whose Subscribe joins the server's one
// subscription to the database instead of opening its own: a thousand
// tenants share one LISTEN connection.
type fannedStore struct {
	store.Store
	fan *fanout
	id  string
}

func (f fannedStore) Subscribe(ctx context.Context, fn func(store.Change)) error {
	return f.fan.subscribe(ctx, f.id, fn)
}

// fanout is the server's one subscription to the changes of every tenant,
// each delivered to the subscribers of its tenant only (and one that
// concerns every tenant to all).
type fanout struct {
	db interface {
		Subscribe(ctx context.Context, fn func(store.Change)) error
	}
	mu      sync.Mutex
	started bool
	stop    context.CancelFunc
	next    int
	subs    map[string]map[int]func(store.Change)
	global  []func(store.Change) // server-wide followers (the tenants registry)
}

func newFanout(db interface {
	Subscribe(ctx context.Context, fn func(store.Change)) error
}) *fanout {
	return &fanout{db: db, subs: map[string]map[int]func(store.Change){}}
}

// start subscribes to the database once.
func (f *fanout) startLocked() error {
	if f.started {
		return nil
	}
	ctx, stop := context.WithCancel(context.Background())
	if err := f.db.Subscribe(ctx, f.dispatch); err != nil {
		stop()
		return err
	}
	f.started, f.stop = true, stop
	return nil
}

func (f *fanout) subscribe(ctx context.Context, tenantID string, fn func(store.Change)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.startLocked(); err != nil {
		return err
	}
	id := f.next
	f.next++
	m := f.subs[tenantID]
	if m == nil {
		m = map[int]func(store.Change){}
		f.subs[tenantID] = m
	}
	m[id] = fn
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		delete(f.subs[tenantID], id)
		if len(f.subs[tenantID]) == 0 {
			delete(f.subs, tenantID)
		}
		f.mu.Unlock()
	})
	return nil
}

// follow registers a server-wide follower of every change.
func (f *fanout) follow(fn func(store.Change)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.startLocked(); err != nil {
		return err
	}
	f.global = append(f.global, fn)
	return nil
}

func (f *fanout) dispatch(c store.Change) {
	f.mu.Lock()
	var fns []func(store.Change)
	fns = append(fns, f.global...)
	if c.Tenant == "" {
		for _, m := range f.subs {
			for _, fn := range m {
				fns = append(fns, fn)
			}
		}
	} else {
		for _, fn := range f.subs[c.Tenant] {
			fns = append(fns, fn)
		}
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(c)
	}
}

func (f *fanout) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stop != nil {
		f.stop()
	}
}
