package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// serverProcess is a Permiso server the benchmark started and will stop.
type serverProcess struct {
	cmd     *exec.Cmd
	baseURL string
	// pprofURL is the profiler's base URL when the server was started
	// with one (the seeded scenarios read its heap after a collection).
	pprofURL string
	dataDir  string
	logPath  string
	logFile  *os.File
	startup  time.Duration // exec to the first 200 from /healthz
	adminID  string
	adminPW  string
	exited   chan struct{}
	waitErr  error
	keep     bool // the data directory belongs to the caller
}

// startConfig says how to start a server.
type startConfig struct {
	binary  string
	args    []string // passed after serve --data-dir --addr
	timeout time.Duration
	logger  *slog.Logger
	// dataDir, when set, is used instead of a new temporary directory and
	// left in place by stop, so a server can be started again on it.
	dataDir string
	// pprof starts the server's profiler on a loopback port of its own.
	pprof bool
}

// startServer runs `<binary> serve --data-dir <tmp> --addr 127.0.0.1:<port>`
// and waits until it serves. The caller must call stop.
func startServer(ctx context.Context, cfg startConfig) (_ *serverProcess, err error) {
	var p *serverProcess
	if cfg.dataDir != "" {
		p = &serverProcess{dataDir: cfg.dataDir, logPath: cfg.dataDir + ".log", exited: make(chan struct{}), keep: true}
	} else {
		dir, err := os.MkdirTemp("", "permiso-bench-")
		if err != nil {
			return nil, fmt.Errorf("start server: %w", err)
		}
		p = &serverProcess{dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "server.log"),
			exited: make(chan struct{})}
	}
	defer func() {
		if err != nil {
			p.stop(cfg.logger)
		}
	}()
	addr, err := freeLoopbackAddr()
	if err != nil {
		return p, err
	}
	p.baseURL = "http://" + addr
	if p.logFile, err = os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return p, fmt.Errorf("start server: %w", err)
	}
	args := append([]string{"serve", "--data-dir", p.dataDir, "--addr", addr}, cfg.args...)
	if cfg.pprof {
		pa, err := freeLoopbackAddr()
		if err != nil {
			return p, err
		}
		args = append(args, "--pprof-addr", pa)
		p.pprofURL = "http://" + pa
	}
	p.cmd = exec.Command(cfg.binary, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.logFile, p.logFile
	p.cmd.SysProcAttr = childAttr()
	cfg.logger.Info("starting server", "binary", cfg.binary, "addr", addr, "data_dir", p.dataDir)
	begin := time.Now()
	if err := p.cmd.Start(); err != nil {
		p.cmd = nil
		return p, fmt.Errorf("start server: %w", err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	timeout := cfg.timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := p.waitReady(ctx, begin, timeout); err != nil {
		return p, err
	}
	cfg.logger.Info("server ready", "pid", p.cmd.Process.Pid, "startup", p.startup)
	return p, nil
}

// waitReady polls /healthz every 2 ms until it answers 200.
func (p *serverProcess) waitReady(ctx context.Context, begin time.Time, timeout time.Duration) error {
	c := newClient(1, false)
	defer c.CloseIdleConnections()
	deadline := begin.Add(timeout)
	health := getRequest(p.baseURL, "/healthz")
	var buf bytes.Buffer
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("server exited before it was ready (%v); log:\n%s", p.waitErr, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("wait for server: %w", ctx.Err())
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		_, err := health.send(rctx, c, &buf, http.StatusOK)
		cancel()
		if err == nil {
			p.startup = time.Since(begin)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %s (last: %v); log:\n%s", timeout, err, p.logTail())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readBootstrap loads the bootstrap admin credentials the server wrote on
// its first start.
func (p *serverProcess) readBootstrap() error {
	path := filepath.Join(p.dataDir, "bootstrap-admin.json")
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read bootstrap credentials: %w", err)
	}
	if err := json.Unmarshal(b, &creds); err != nil {
		return fmt.Errorf("read bootstrap credentials %s: %w", path, err)
	}
	if creds.ClientID == "" || creds.ClientSecret == "" {
		return fmt.Errorf("read bootstrap credentials %s: client_id or client_secret missing", path)
	}
	p.adminID, p.adminPW = creds.ClientID, creds.ClientSecret
	return nil
}

func (p *serverProcess) pid() int {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop sends SIGTERM, waits up to 5 s, then kills, and removes the data
// directory.
func (p *serverProcess) stop(logger *slog.Logger) {
	if p.cmd != nil {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
				logger.Warn("server did not stop in 5s; killing it", "pid", p.pid())
				p.cmd.Process.Kill()
				<-p.exited
			}
		}
	}
	if p.logFile != nil {
		p.logFile.Close()
	}
	if p.keep {
		return
	}
	if err := os.RemoveAll(filepath.Dir(p.dataDir)); err != nil {
		logger.Warn("remove benchmark data", "err", err)
	}
}

// logTail returns the last 2 KiB of the server's output.
func (p *serverProcess) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > 2048 {
		b = b[len(b)-2048:]
	}
	return string(b)
}

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}
