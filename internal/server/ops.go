package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/ratelimit"
)

var _ oauth.Limiter = (*ratelimit.Limiter)(nil)

// ops holds the operational parts: metrics, rate limits and their wiring.
type ops struct {
	log     *slog.Logger
	metrics *metrics
	limit   *ratelimit.Limiter
	// metricsLn is the separate metrics listener (Config.MetricsAddr), or
	// nil when /metrics is served on the main listener.
	metricsLn  net.Listener
	metricsSrv *http.Server
	closeOnce  sync.Once
}

func newOps(ctx context.Context, s *Server) (*ops, error) {
	m, err := newMetrics(s)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	lim, err := ratelimit.New(ratelimit.Config{AuthFailuresPerMinute: s.cfg.AuthFailuresPerMin,
		RedisURL: s.cfg.RedisURL, RedisPrefix: s.cfg.RedisPrefix, Registerer: m.reg,
		Logger: s.log.With("component", "ratelimit"), Now: s.cfg.Now})
	if err != nil {
		return nil, err
	}
	o := &ops{log: s.log, metrics: m, limit: lim}
	if s.cfg.MetricsAddr != "" {
		// Bound now, so a busy address fails the start instead of leaving
		// a replica without metrics.
		if o.metricsLn, err = net.Listen("tcp", s.cfg.MetricsAddr); err != nil {
			lim.Close()
			return nil, fmt.Errorf("metrics listener on %s: %w", s.cfg.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", o.metricsHandler())
		o.metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	}
	return o, nil
}

// observer returns the protocol's metric hooks.
func (o *ops) observer() oauth.Observer { return o.metrics.observer() }

// requestDone is called after every request, for HTTP metrics.
func (o *ops) requestDone(r *http.Request, status int, d time.Duration) {
	o.metrics.requestDone(r, status, d)
}

// mount registers operational endpoints (metrics) on the main listener,
// unless they have a listener of their own.
func (o *ops) mount(mux *http.ServeMux) {
	if o.metricsLn == nil {
		mux.Handle("GET /metrics", o.metricsHandler())
	}
}

func (o *ops) metricsHandler() http.Handler {
	return promhttp.HandlerFor(o.metrics.reg, promhttp.HandlerOpts{Registry: o.metrics.reg,
		ErrorLog: slog.NewLogLogger(o.log.Handler(), slog.LevelWarn), Timeout: 10 * time.Second})
}

// run serves the metrics listener, if any, until ctx ends. Run cancels
// ctx only after the main listener drained, so the drain itself can be
// watched. Then it releases the limiter.
func (o *ops) run(ctx context.Context) {
	if o.metricsSrv != nil {
		go func() {
			if err := o.metricsSrv.Serve(o.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.log.Error("metrics listener", "err", err)
			}
		}()
		o.log.Info("metrics serving", "addr", o.metricsLn.Addr().String())
	}
	<-ctx.Done()
	o.close()
}

// close stops the metrics listener and the limiter's Redis connections.
// It runs at the end of Run and from Server.Close; the second call is a no-op.
func (o *ops) close() {
	o.closeOnce.Do(func() {
		if o.metricsSrv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			o.metricsSrv.Shutdown(sctx)
			cancel()
			o.metricsLn.Close() // Shutdown closes it only if Serve ran
		}
		o.limit.Close()
	})
}
