package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// An Op performs one request with c and checks the answer minimally. It
// returns nil on success; otherwise an error whose kind [ErrorKind] names.
// buf belongs to the calling worker and may hold the response body.
type Op func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error

// LoadConfig describes one closed-loop load run. Connections, Duration and
// NewOp are required.
type LoadConfig struct {
	// Connections is the number of workers; each owns one keep-alive
	// connection and has at most one request in flight.
	Connections int
	// Warmup is run first and not measured; zero means none.
	Warmup time.Duration
	// Duration is the measured window after the warm-up.
	Duration time.Duration
	// Slack is how long requests still in flight at the end of the window
	// may take before everything is cancelled; zero means 2s. A request
	// cut off this way counts as a "timeout" error.
	Slack time.Duration
	// NewOp returns the operation worker i repeats; per-connection state
	// (such as a refresh-token chain) lives in its closure.
	NewOp func(worker int) Op
	// AllowRemote lets the workers dial non-loopback addresses.
	AllowRemote bool
	// OnMeasureStart and OnMeasureEnd, if set, run when the measured
	// window opens and closes (for sampling the server's CPU time).
	OnMeasureStart, OnMeasureEnd func()
}

// LoadResult is what one load run measured. Requests counts every request
// that completed inside the measured window; Latency holds the successful
// ones only.
type LoadResult struct {
	Requests    uint64
	OK          uint64
	Errors      map[string]uint64
	Window      time.Duration
	Latency     Histogram
	Interrupted bool // the caller's context ended the run early
}

// merge adds o's counts and window to r.
func (r *LoadResult) merge(o *LoadResult) {
	if r.Errors == nil {
		r.Errors = map[string]uint64{}
	}
	r.Requests += o.Requests
	r.OK += o.OK
	for k, v := range o.Errors {
		r.Errors[k] += v
	}
	r.Window += o.Window
	r.Latency.Merge(&o.Latency)
	r.Interrupted = r.Interrupted || o.Interrupted
}

// ErrorCount returns the number of failed requests.
func (r *LoadResult) ErrorCount() uint64 {
	var n uint64
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// OKPerSecond returns successful requests per second of the window.
func (r *LoadResult) OKPerSecond() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.OK) / r.Window.Seconds()
}

// RequestsPerSecond returns completed requests (including failures) per
// second of the window.
func (r *LoadResult) RequestsPerSecond() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Window.Seconds()
}

type workerResult struct {
	hist   Histogram
	ok     uint64
	errors map[string]uint64
}

// RunLoad drives cfg.Connections workers against the server until the
// window closes, and returns what they measured. It never runs longer than
// Warmup + Duration + Slack.
func RunLoad(ctx context.Context, cfg LoadConfig) (*LoadResult, error) {
	if cfg.Connections < 1 {
		return nil, fmt.Errorf("load: connections must be at least 1, got %d", cfg.Connections)
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("load: duration must be positive, got %s", cfg.Duration)
	}
	if cfg.Warmup < 0 {
		return nil, fmt.Errorf("load: warm-up must not be negative, got %s", cfg.Warmup)
	}
	if cfg.NewOp == nil {
		return nil, errors.New("load: no operation")
	}
	slack := cfg.Slack
	if slack <= 0 {
		slack = 2 * time.Second
	}
	begin := time.Now()
	measureStart := begin.Add(cfg.Warmup)
	measureEnd := measureStart.Add(cfg.Duration)
	hardCtx, cancel := context.WithDeadline(ctx, measureEnd.Add(slack))
	defer cancel()

	var hooks sync.WaitGroup
	hooks.Go(func() { runHooks(hardCtx, measureStart, measureEnd, cfg.OnMeasureStart, cfg.OnMeasureEnd) })

	results := make([]workerResult, cfg.Connections)
	var wg sync.WaitGroup
	for i := range cfg.Connections {
		op := cfg.NewOp(i)
		client := newClient(1, cfg.AllowRemote)
		wg.Go(func() {
			defer client.CloseIdleConnections()
			work(ctx, hardCtx, op, client, measureStart, measureEnd, &results[i])
		})
	}
	wg.Wait()
	hooks.Wait()

	res := &LoadResult{Errors: map[string]uint64{}, Window: cfg.Duration, Interrupted: ctx.Err() != nil}
	for i := range results {
		r := &results[i]
		res.Latency.Merge(&r.hist)
		res.OK += r.ok
		for k, v := range r.errors {
			res.Errors[k] += v
		}
	}
	res.Requests = res.OK + res.ErrorCount()
	return res, nil
}

// runHooks calls start when the window opens and end when it closes,
// unless ctx ends first.
func runHooks(ctx context.Context, at, until time.Time, start, end func()) {
	for _, step := range []struct {
		when time.Time
		fn   func()
	}{{at, start}, {until, end}} {
		t := time.NewTimer(time.Until(step.when))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if step.fn != nil {
			step.fn()
		}
	}
}

// work is one worker's closed loop. A request counts when it completes
// inside [measureStart, measureEnd); one cut off by the hard deadline
// counts as a timeout.
func work(ctx, hardCtx context.Context, op Op, c *http.Client, measureStart, measureEnd time.Time, out *workerResult) {
	var buf bytes.Buffer
	for {
		start := time.Now()
		if !start.Before(measureEnd) || hardCtx.Err() != nil {
			return
		}
		err := op(hardCtx, c, &buf)
		done := time.Now()
		if err != nil && hardCtx.Err() != nil {
			if ctx.Err() == nil && !start.Before(measureStart) {
				out.addError("timeout")
			}
			return
		}
		if done.Before(measureStart) || !done.Before(measureEnd) {
			continue
		}
		if err != nil {
			out.addError(ErrorKind(err))
			continue
		}
		out.ok++
		out.hist.Record(done.Sub(start))
	}
}

func (w *workerResult) addError(kind string) {
	if w.errors == nil {
		w.errors = map[string]uint64{}
	}
	w.errors[kind]++
}
