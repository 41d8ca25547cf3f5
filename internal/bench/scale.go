package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The scale scenarios start servers of their own, seeded with bulk SQL,
// and compare two loads in alternating rounds, as a scenario with a
// reference does: many clients against one, and tokens with revocation
// feed pollers against without.

// Sizes of the scale scenarios.
const (
	scaleClients     = 100_000
	scaleFewClients  = 1_000
	scaleRevocations = 1_000_000
	feedPollerCount  = 4
)

// runClients100k measures token requests for a random client of 100,000
// against requests for one client, on the same server; the heap each
// loaded client takes; and the client statistics' latency at 100,000
// clients against 1,000.
func runClients100k(ctx context.Context, cfg Config, log *slog.Logger) ScenarioResult {
	res := ScenarioResult{Name: ScenarioClients100k, Status: StatusOK, Labels: &[2]string{"random", "1-client"}, Figures: map[string]float64{}}
	fail := func(err error) ScenarioResult {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	few, err := startSeeded(ctx, cfg, log, seedSpec{clients: scaleFewClients - 1})
	if err != nil {
		return fail(err)
	}
	fewStats, fewErr := statsLatency(ctx, few, cfg.Duration)
	fewHeap, heapErr := serverHeap(ctx, few)
	few.stop(log)
	if fewErr != nil || heapErr != nil {
		return fail(fmt.Errorf("%d clients: %w", scaleFewClients, firstErr(fewErr, heapErr)))
	}
	many, err := startSeeded(ctx, cfg, log, seedSpec{clients: scaleClients - 1})
	if err != nil {
		return fail(err)
	}
	defer many.stop(log)
	manyHeap, err := serverHeap(ctx, many)
	if err != nil {
		return fail(err)
	}
	base := many.proc.baseURL
	one := &sample{name: "1-client", newOp: ccOp(base, many.clientID, many.secret, false), pid: many.proc.pid()}
	random := &sample{name: "random", newOp: randomClientOp(base, many.secret, scaleClients-1), pid: many.proc.pid()}
	if err := compare(ctx, cfg, log, res.Name, random, one); err != nil {
		return fail(err)
	}
	manyStats, err := statsLatency(ctx, many, cfg.Duration)
	if err != nil {
		return fail(err)
	}
	res.Permiso, res.Reference = random.measurement(), one.measurement()
	if r := res.Reference.OKPerSecond; r > 0 {
		ratio := res.Permiso.OKPerSecond / r
		res.Ratio = &ratio
	}
	res.Figures["bytes_per_cached_client"] = float64(manyHeap-fewHeap) / float64(scaleClients-scaleFewClients)
	res.Figures["heap_mib_at_100k_clients"] = float64(manyHeap) / (1 << 20)
	res.Figures["stats_ms_at_1k_clients"] = fewStats
	res.Figures["stats_ms_at_100k_clients"] = manyStats
	if fewStats > 0 {
		res.Figures["stats_latency_100k_over_1k"] = manyStats / fewStats
	}
	return res
}

// runFeed1M measures token requests while four clients poll the
// revocation feed of a server holding 1,000,000 revocations, against the
// same requests without them.
func runFeed1M(ctx context.Context, cfg Config, log *slog.Logger) ScenarioResult {
	res := ScenarioResult{Name: ScenarioFeed1M, Status: StatusOK, Labels: &[2]string{"polled", "unpolled"}, Figures: map[string]float64{}}
	srv, err := startSeeded(ctx, cfg, log, seedSpec{revocations: scaleRevocations})
	if err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	defer srv.stop(log)
	base := srv.proc.baseURL
	pollers := newFeedPollers(base, feedPollerCount)
	// Every poller holds the whole list before the measurement, as a
	// following guard does; then they poll as fast as they can.
	first := time.Now()
	if err := pollers.syncAll(ctx); err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	res.Figures["first_full_sync_seconds"] = time.Since(first).Seconds() / feedPollerCount
	res.Figures["feed_entries"] = float64(pollers.entries())
	res.Figures["snapshot_mib_gzipped"] = float64(pollers.bytes.Load()) / feedPollerCount / (1 << 20)
	pollers.requests.Store(0)
	pollers.bytes.Store(0)
	polled := &sample{name: "polled", newOp: ccOp(base, srv.clientID, srv.secret, false), pid: srv.proc.pid(), around: pollers.during}
	unpolled := &sample{name: "unpolled", newOp: ccOp(base, srv.clientID, srv.secret, false), pid: srv.proc.pid()}
	if err := compare(ctx, cfg, log, res.Name, polled, unpolled); err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	res.Permiso, res.Reference = polled.measurement(), unpolled.measurement()
	if r := res.Reference.OKPerSecond; r > 0 {
		ratio := res.Permiso.OKPerSecond / r
		res.Ratio = &ratio
	}
	if w := polled.lr.Window.Seconds(); w > 0 {
		res.Figures["poller_requests_per_second"] = float64(pollers.requests.Load()) / w
		res.Figures["poller_mib_per_second"] = float64(pollers.bytes.Load()) / w / (1 << 20)
	}
	// The worst consumer: the same pollers download the whole snapshot
	// again and again, ignoring ETags and deltas.
	pollers.refetch = true
	pollers.requests.Store(0)
	pollers.bytes.Store(0)
	refetched := &sample{name: "refetched", newOp: ccOp(base, srv.clientID, srv.secret, false), pid: srv.proc.pid(), around: pollers.during}
	unpolled2 := &sample{name: "unpolled", newOp: ccOp(base, srv.clientID, srv.secret, false), pid: srv.proc.pid()}
	if err := compare(ctx, cfg, log, res.Name+" (refetching pollers)", refetched, unpolled2); err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res
	}
	if r := unpolled2.measurement().OKPerSecond; r > 0 {
		res.Figures["ratio_with_refetching_pollers"] = refetched.measurement().OKPerSecond / r
	}
	if w := refetched.lr.Window.Seconds(); w > 0 {
		res.Figures["refetch_mib_per_second"] = float64(pollers.bytes.Load()) / w / (1 << 20)
	}
	return res
}

// compare runs a and b in alternating rounds (a, b, b, a, ...), as a
// scenario and its reference are.
func compare(ctx context.Context, cfg Config, log *slog.Logger, name string, a, b *sample) error {
	rounds := max(1, min(max(cfg.Rounds, 2), int(cfg.Duration/minSlice)))
	slice := cfg.Duration / time.Duration(rounds)
	log.Info("running", "scenario", name, "connections", cfg.Connections, "duration", cfg.Duration, "rounds", rounds)
	sides := []*sample{a, b}
	for i := range rounds {
		d, warm := slice, cfg.Warmup
		if i == rounds-1 {
			d = cfg.Duration - slice*time.Duration(rounds-1)
		}
		if i > 0 {
			warm = min(warm, minSlice)
		}
		for j := range sides {
			side := sides[j]
			if i%2 == 1 {
				side = sides[len(sides)-1-j]
			}
			if err := side.run(ctx, cfg, warm, d); err != nil {
				return fmt.Errorf("%s: %w", side.name, err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// randomClientOp asks for a token for a random seeded client each time.
// The Authorization headers are built once, so this side does no more
// work per request than the one-client side.
func randomClientOp(base, secret string, n int) func(int) Op {
	auths := make([]string, n)
	for i := range auths {
		auths[i] = basicAuth(benchClientID(i+1), secret)
	}
	body := []byte(url.Values{"grant_type": {"client_credentials"}}.Encode())
	return func(worker int) Op {
		rng := rand.New(rand.NewPCG(uint64(worker), 0x9e3779b97f4a7c15))
		r := request{method: http.MethodPost, url: base + "/oauth2/token", body: body, header: http.Header{
			"Content-Type":  {"application/x-www-form-urlencoded"},
			"Authorization": {""},
		}}
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			// The header map is this worker's own, so it may change.
			r.header["Authorization"][0] = auths[rng.IntN(n)]
			b, err := r.send(ctx, c, buf, http.StatusOK)
			if err != nil {
				return err
			}
			return checkToken(b)
		}
	}
}

// statsLatency is the median latency of GET
// /api/v1/service-clients/stats/overview, in milliseconds, over at most
// d and 2,000 sequential requests.
func statsLatency(ctx context.Context, ss *seededServer, d time.Duration) (float64, error) {
	c := newClient(1, false)
	defer c.CloseIdleConnections()
	r := getRequest(ss.proc.baseURL, "/api/v1/service-clients/stats/overview")
	r.header.Set("Authorization", "Bearer "+ss.admin)
	var buf bytes.Buffer
	var times []time.Duration
	end := time.Now().Add(min(d, 10*time.Second))
	for len(times) < 2000 && (len(times) < 20 || time.Now().Before(end)) {
		start := time.Now()
		body, err := r.send(ctx, c, &buf, http.StatusOK)
		if err != nil {
			return 0, fmt.Errorf("client statistics: %w", err)
		}
		if _, ok := jsonValue(body, "total_clients"); !ok {
			return 0, &CheckError{Kind: "no_total_clients"}
		}
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return ms(times[len(times)/2]), nil
}

// serverHeap is the server's live heap after a collection: it asks the
// profiler (started on its own loopback port) for a heap profile with
// gc=1, then reads go_memstats_heap_alloc_bytes from /metrics.
func serverHeap(ctx context.Context, ss *seededServer) (int64, error) {
	c := newClient(1, false)
	defer c.CloseIdleConnections()
	var buf bytes.Buffer
	if ss.proc.pprofURL != "" {
		r := getRequest(ss.proc.pprofURL, "/debug/pprof/heap?gc=1")
		if _, err := r.send(ctx, c, &buf, http.StatusOK); err != nil {
			return 0, fmt.Errorf("heap profile: %w", err)
		}
	}
	body, err := (&request{method: http.MethodGet, url: ss.proc.baseURL + "/metrics", header: http.Header{}}).send(ctx, c, &buf, http.StatusOK)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_alloc_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metrics: %w", err)
			}
			return int64(f), nil
		}
	}
	return 0, fmt.Errorf("metrics: no go_memstats_heap_alloc_bytes")
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
