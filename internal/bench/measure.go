package bench

import (
	"context"
	"log/slog"
	"os"
	"time"
)

// Slices of a comparison are at least this long, and later slices warm up
// at most this long (their connections are new, but the server is warm).
const minSlice = 200 * time.Millisecond

// runScenario prepares and runs one scenario against the server and, when
// it has one, against the reference handler, alternating between the two.
func runScenario(ctx context.Context, cfg Config, log *slog.Logger, sc scenario, st *setup, srv *serverProcess, ref *referenceServer) ScenarioResult {
	if sc.standalone != nil {
		if srv == nil {
			return ScenarioResult{Name: sc.name, Status: StatusUnavailable,
				Reason: "needs a server the benchmark starts itself (it seeds the database), not --target"}
		}
		return sc.standalone(ctx, cfg, log)
	}
	res := ScenarioResult{Name: sc.name, Status: StatusOK}
	newOp, err := sc.prepare(ctx, st)
	if err != nil {
		err = markUnavailable(err)
		res.Status, res.Reason = StatusFailed, err.Error()
		if isUnavailable(err) {
			res.Status = StatusUnavailable
		}
		log.Warn("scenario not run", "scenario", sc.name, "status", res.Status, "reason", res.Reason)
		return res
	}
	server := &sample{name: "permiso", newOp: newOp, pid: srv.pid()}
	sides := []*sample{server}
	var reference *sample
	if ref != nil && sc.reference {
		refOp := ccOp(ref.baseURL, ref.clientID, ref.secret, sc.name == ScenarioCCPost)
		if prepareRef := referenceOps[sc.name]; prepareRef != nil {
			if refOp, err = prepareRef(ctx, st, ref); err != nil {
				res.Status, res.Reason = StatusFailed, "reference: "+err.Error()
				return res
			}
		}
		reference = &sample{name: "reference", newOp: refOp}
		sides = append(sides, reference)
	}
	rounds := 1
	if reference != nil {
		rounds = max(1, min(cfg.Rounds, int(cfg.Duration/minSlice)))
	}
	log.Info("running", "scenario", sc.name, "connections", cfg.Connections, "duration", cfg.Duration,
		"reference", reference != nil, "rounds", rounds)
	slice := cfg.Duration / time.Duration(rounds)
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
			if i%2 == 1 { // server, reference, reference, server, ...
				side = sides[len(sides)-1-j]
			}
			log.Debug("slice", "scenario", sc.name, "target", side.name, "round", i+1, "duration", d)
			if err := side.run(ctx, cfg, warm, d); err != nil {
				res.Status, res.Reason = StatusFailed, side.name+": "+err.Error()
				return res
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	res.Permiso = server.measurement()
	if reference != nil {
		res.Reference = reference.measurement()
		if r := res.Reference.OKPerSecond; r > 0 {
			ratio := res.Permiso.OKPerSecond / r
			res.Ratio = &ratio
		}
	}
	return res
}

// sample accumulates the load runs against one target. For a server the
// benchmark started (pid > 0) it also adds up the server's CPU time over
// each measured window.
type sample struct {
	name  string
	newOp func(int) Op
	pid   int
	// around, if set, wraps each load run (to run other load beside it).
	around func(run func() error) error
	lr     LoadResult
	cpu    time.Duration
	cpuBad bool          // a window lacked a CPU reading
	self   time.Duration // this process's CPU time over the windows
	selfOK bool
	runs   int
}

func (s *sample) run(ctx context.Context, cfg Config, warmup, duration time.Duration) error {
	var cpuStart, cpuEnd, selfStart, selfEnd time.Duration
	var cpuErr, selfErr error
	ended := false
	self := os.Getpid()
	lc := LoadConfig{Connections: cfg.Connections, Warmup: warmup, Duration: duration,
		NewOp: s.newOp, AllowRemote: cfg.AllowRemote}
	lc.OnMeasureStart = func() {
		selfStart, selfErr = processCPU(self)
		if s.pid > 0 {
			cpuStart, cpuErr = processCPU(s.pid)
		}
	}
	lc.OnMeasureEnd = func() {
		if selfErr == nil {
			selfEnd, selfErr = processCPU(self)
		}
		if s.pid > 0 && cpuErr == nil {
			cpuEnd, cpuErr = processCPU(s.pid)
			ended = cpuErr == nil
		}
	}
	var lr *LoadResult
	load := func() (err error) {
		lr, err = RunLoad(ctx, lc)
		return err
	}
	if s.around != nil {
		if err := s.around(load); err != nil {
			return err
		}
	} else if err := load(); err != nil {
		return err
	}
	s.lr.merge(lr)
	s.selfOK = (s.runs == 0 || s.selfOK) && selfErr == nil && selfEnd > 0
	s.self += selfEnd - selfStart
	s.runs++
	if ended {
		s.cpu += cpuEnd - cpuStart
	} else {
		s.cpuBad = true
	}
	return nil
}

func (s *sample) measurement() *Measurement {
	m := newMeasurement(&s.lr)
	if s.selfOK && s.lr.Window > 0 {
		cores := s.self.Seconds() / s.lr.Window.Seconds()
		m.BenchCPUCores = &cores
	}
	if s.pid <= 0 {
		return m
	}
	if !s.cpuBad && s.runs > 0 {
		cores := s.cpu.Seconds() / s.lr.Window.Seconds()
		m.ServerCPUCores = &cores
		if s.lr.OK > 0 {
			per1k := s.cpu.Seconds() / float64(s.lr.OK) * 1000
			m.ServerCPUSecondsPer1K = &per1k
		}
	}
	if rss, err := processPeakRSS(s.pid); err == nil {
		m.ServerPeakRSSBytes = rss
	}
	return m
}
