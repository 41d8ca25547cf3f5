package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
)

// maxClientLabels caps the distinct client_id label values. Clients are
// registered entities, so the cap is only reached by an unusually large
// installation; the rest are counted as "other" rather than letting the
// series count grow without bound.
const maxClientLabels = 1000

// metrics is one server's Prometheus registry and the collectors the
// request path updates. Everything else is read at scrape time.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	introspections *prometheus.CounterVec
	revocations    prometheus.Counter
	limited        *prometheus.CounterVec
	clients        labelCap
}

// newMetrics builds the registry. The original's names (http_requests_total,
// http_request_duration_seconds, auth_requests_total,
// failed_login_attempts_total) are kept without its per-service label,
// since Prometheus adds job and instance; Permiso's own are permiso_*.
func newMetrics(s *Server) (*metrics, error) {
	m := &metrics{reg: prometheus.NewRegistry(), clients: labelCap{max: maxClientLabels}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total",
		Help: "HTTP requests by method, route pattern and status code."}, []string{"method", "route", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds",
		Help:    "HTTP request latency by method and route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"method", "route"})
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "auth_requests_total",
		Help: "Tokens issued by client and grant type (status is always success; failures are in failed_login_attempts_total)."},
		[]string{"client_id", "grant_type", "status"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "failed_login_attempts_total",
		Help: "Failed client authentications by reason (wrong_secret, unknown_client, client_disabled, ip_not_allowed, ...)."},
		[]string{"reason"})
	m.introspections = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "permiso_token_introspections_total",
		Help: "Token introspections by result."}, []string{"active"})
	m.revocations = prometheus.NewCounter(prometheus.CounterOpts{Name: "permiso_token_revocations_total",
		Help: "Access tokens revoked."})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "permiso_rate_limited_requests_total",
		Help: "Requests refused with 429 by limit kind: client (token rate), auth_ip and auth_client (failed authentication)."},
		[]string{"kind"})

	hits := func() (float64, float64) { h, mi := s.store.Stats(); return float64(h), float64(mi) }
	cs := []prometheus.Collector{m.requests, m.duration, m.tokens, m.authFailures, m.introspections, m.revocations, m.limited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "permiso_cache_hits_total",
			Help: "Client, secret, scope and role lookups served from the in-process cache."},
			func() float64 { h, _ := hits(); return h }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "permiso_cache_misses_total",
			Help: "Client, secret, scope and role lookups that reached the database."},
			func() float64 { _, mi := hits(); return mi }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_cache_hit_ratio",
			Help: "Share of cached lookups served from the cache since start (0 before the first lookup)."},
			func() float64 {
				h, mi := hits()
				if h+mi == 0 {
					return 0
				}
				return h / (h + mi)
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "permiso_cache_stale_hits_total",
			Help: "Lookups served from entries past their lifetime because the database could not be reached."},
			func() float64 { return float64(s.store.StaleHits()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_cache_load_age_seconds",
			Help: "Seconds since the cache last read every client, scope and role from the database."},
			func() float64 {
				if t := s.store.LastLoaded(); !t.IsZero() {
					return s.cfg.Now().Sub(t).Seconds()
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "permiso_audit_events_dropped_total",
			Help: "Audit events dropped because the write queue was full."},
			func() float64 { return float64(s.audit.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_ready",
			Help: "1 when this replica is ready (database answers, not draining), as /readyz says."},
			func() float64 { return b2f(!s.draining.Load() && s.ping(context.Background()) == nil) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "permiso_build_info", Help: "Always 1; labels say the version.",
			ConstLabels: prometheus.Labels{"version": s.cfg.Version, "database": s.db.Dialect()}}, func() float64 { return 1 }),
		keyCollector{s},
		poolCollector{s},
	}
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// observer returns the protocol hooks that feed the counters.
func (m *metrics) observer() oauth.Observer {
	return oauth.Observer{
		TokenIssued: func(clientID, grant string) {
			m.tokens.WithLabelValues(m.clients.value(clientID), grant, "success").Inc()
		},
		AuthFailure:   func(reason string) { m.authFailures.WithLabelValues(reason).Inc() },
		Introspection: func(active bool) { m.introspections.WithLabelValues(strconv.FormatBool(active)).Inc() },
		Revocation:    m.revocations.Inc,
		RateLimited:   func(kind string) { m.limited.WithLabelValues(kind).Inc() },
	}
}

// requestDone records one request. The route is the ServeMux pattern that
// matched, never the raw path, so ids in paths do not become series.
func (m *metrics) requestDone(r *http.Request, status int, d time.Duration) {
	route := r.Pattern
	if route == "" || route == "/" { // no route, or the catch-all 404
		route = "unmatched"
	}
	method := knownMethod(r.Method)
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

// knownMethod folds methods a client invents into "other".
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// labelCap admits up to max distinct label values and folds the rest
// into "other".
type labelCap struct {
	mu   sync.RWMutex
	seen map[string]struct{}
	max  int
}

func (c *labelCap) value(v string) string {
	c.mu.RLock()
	_, ok := c.seen[v]
	n := len(c.seen)
	c.mu.RUnlock()
	if ok {
		return v
	}
	if n >= c.max {
		return "other"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = make(map[string]struct{})
	}
	if len(c.seen) >= c.max {
		return "other"
	}
	c.seen[v] = struct{}{}
	return v
}

// keyCollector reports the signing keys as last loaded.
type keyCollector struct{ s *Server }

var (
	keysDesc = prometheus.NewDesc("permiso_signing_keys",
		"Signing keys by state: next (published, not yet signing), active (signing), retired (published until its tokens expire).",
		[]string{"state"}, nil)
	keyAgeDesc = prometheus.NewDesc("permiso_signing_key_age_seconds",
		"Seconds since the key that signs now became active; rotate before it reaches your policy's maximum.", nil, nil)
)

func (k keyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- keysDesc; ch <- keyAgeDesc }

func (k keyCollector) Collect(ch chan<- prometheus.Metric) {
	counts := map[string]int{store.KeyNext: 0, store.KeyActive: 0, store.KeyRetired: 0}
	var since time.Time
	now := k.s.cfg.Now()
	for _, key := range k.s.keys.Keys() {
		if key.State == store.KeyRetired && key.ExpiresAt != nil && !key.ExpiresAt.After(now) {
			continue // no longer published
		}
		counts[key.State]++
		if key.State == store.KeyActive && key.ActivatesAt.After(since) {
			since = key.ActivatesAt
		}
	}
	for state, n := range counts {
		ch <- prometheus.MustNewConstMetric(keysDesc, prometheus.GaugeValue, float64(n), state)
	}
	if !since.IsZero() {
		ch <- prometheus.MustNewConstMetric(keyAgeDesc, prometheus.GaugeValue, now.Sub(since).Seconds())
	}
}

// poolCollector reports the database connection pool.
type poolCollector struct{ s *Server }

var poolDescs = struct{ max, open, inUse, idle, waits, waited, closedIdle *prometheus.Desc }{
	max:        prometheus.NewDesc("permiso_db_pool_max_open_connections", "Largest number of open connections allowed.", nil, nil),
	open:       prometheus.NewDesc("permiso_db_pool_open_connections", "Open connections, in use or idle.", nil, nil),
	inUse:      prometheus.NewDesc("permiso_db_pool_in_use_connections", "Connections in use.", nil, nil),
	idle:       prometheus.NewDesc("permiso_db_pool_idle_connections", "Idle connections.", nil, nil),
	waits:      prometheus.NewDesc("permiso_db_pool_wait_count_total", "Times a query waited for a free connection.", nil, nil),
	waited:     prometheus.NewDesc("permiso_db_pool_wait_duration_seconds_total", "Time spent waiting for a free connection.", nil, nil),
	closedIdle: prometheus.NewDesc("permiso_db_pool_closed_idle_total", "Connections closed because they stayed idle too long.", nil, nil),
}

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	d := poolDescs
	for _, x := range []*prometheus.Desc{d.max, d.open, d.inUse, d.idle, d.waits, d.waited, d.closedIdle} {
		ch <- x
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	st, d := p.s.db.Stats(), poolDescs
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	counter := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v)
	}
	gauge(d.max, float64(st.MaxOpenConnections))
	gauge(d.open, float64(st.OpenConnections))
	gauge(d.inUse, float64(st.InUse))
	gauge(d.idle, float64(st.Idle))
	counter(d.waits, float64(st.WaitCount))
	counter(d.waited, st.WaitDuration.Seconds())
	counter(d.closedIdle, float64(st.MaxIdleTimeClosed))
}
