package forwardauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/sdk/guard"
)

// Config configures a [Service].
type Config struct {
	// Guard configures token verification: Issuer (required), HTTPClient,
	// RevocationPoll (set it: a gateway must honour revocations), the
	// credentials the issuer's feeds require, Leeway, Now and so on.
	// Audience must be empty: each rule names its own.
	Guard guard.Config
	// RulesFile is the path of the rules file. It is read at New and
	// re-read every ReloadInterval; a changed file replaces the rules once
	// it is valid, and an invalid one is logged and ignored.
	RulesFile string
	// Table, when RulesFile is empty, is the fixed rule table (for
	// embedding and tests).
	Table *Table
	// ReloadInterval is how often RulesFile is checked for changes; zero
	// means 2 s, negative disables the check (call [Service.Reload]).
	ReloadInterval time.Duration
	// Logger receives reloads, refusals (debug) and problems; nil discards.
	Logger *slog.Logger
}

// Service makes forward-auth decisions for a proxy: it holds the rules and
// a guard that keeps the issuer's keys and revocation list in memory.
type Service struct {
	cfg   Config
	log   *slog.Logger
	guard *guard.Guard
	table atomic.Pointer[Table]

	reloadMu  sync.Mutex
	digest    [32]byte // of the rules in force
	badDigest [32]byte // of the last invalid content
	lastErr   atomic.Pointer[error]

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New loads the rules and starts the guard and the rules watcher, bounded
// by ctx. It fails on an invalid configuration or rules file (listing every
// problem); it does not wait for the issuer (see [Service.Ready]).
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = 2 * time.Second
	}
	s := &Service{cfg: cfg, log: cfg.Logger}
	switch {
	case cfg.RulesFile != "":
		if _, err := s.reload(); err != nil {
			return nil, err
		}
	case cfg.Table != nil:
		s.table.Store(cfg.Table)
	default:
		return nil, errors.New("forwardauth: RulesFile or Table is required")
	}
	gc := cfg.Guard
	if gc.Audience != "" {
		return nil, errors.New("forwardauth: Guard.Audience must be empty: each rule names its audience")
	}
	gc.AudiencePerCall = true
	if gc.Logger == nil {
		gc.Logger = cfg.Logger
	}
	ctx, s.cancel = context.WithCancel(ctx)
	g, err := guard.New(ctx, gc)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("forwardauth: %w", err)
	}
	s.guard = g
	if cfg.RulesFile != "" && cfg.ReloadInterval > 0 {
		s.wg.Go(func() { s.watch(ctx) })
	}
	return s, nil
}

// Close stops the background work.
func (s *Service) Close() {
	s.cancel()
	s.wg.Wait()
	s.guard.Close()
}

// Ready reports whether the service can verify tokens (keys loaded and the
// revocation list fetched once, when followed).
func (s *Service) Ready() bool { return s.guard.Ready() }

// Status is the guard's state (keys and revocation list), for a readiness
// endpoint that says why it is not ready.
func (s *Service) Status() guard.Status { return s.guard.Status() }

// Table returns the rules in force.
func (s *Service) Table() *Table { return s.table.Load() }

// Reload re-reads RulesFile now. It reports whether the rules changed; an
// invalid file leaves the rules in force and returns its problems.
func (s *Service) Reload() (bool, error) {
	if s.cfg.RulesFile == "" {
		return false, nil
	}
	res, err := s.reload()
	if res == unchanged {
		err = s.ReloadError()
	}
	return res == reloaded, err
}

// ReloadError returns the problem of the rules file as last read, nil when
// it was valid.
func (s *Service) ReloadError() error {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

type reloadResult int

const (
	unchanged reloadResult = iota // same content as last read
	reloaded                      // new rules in force
	rejected                      // new content, invalid or unreadable
)

func (s *Service) reload() (reloadResult, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	b, err := os.ReadFile(s.cfg.RulesFile)
	if err != nil {
		err = fmt.Errorf("read rules: %w", err)
		if prev := s.ReloadError(); prev != nil && prev.Error() == err.Error() {
			return unchanged, nil
		}
		s.lastErr.Store(&err)
		return rejected, err
	}
	sum := sha256.Sum256(b)
	switch sum {
	case s.digest: // the rules in force
		s.lastErr.Store(nil)
		return unchanged, nil
	case s.badDigest:
		return unchanged, nil
	}
	t, err := Parse(bytes.NewReader(b), s.cfg.RulesFile)
	if err != nil {
		s.badDigest = sum
		s.lastErr.Store(&err)
		return rejected, err
	}
	s.digest = sum
	s.lastErr.Store(nil)
	s.table.Store(t)
	return reloaded, nil
}

// watch re-reads the rules file every ReloadInterval until ctx is done.
func (s *Service) watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch res, err := s.reload(); res {
		case rejected:
			s.log.Error("rules file invalid; keeping the rules in force", "file", s.cfg.RulesFile, "error", err)
		case reloaded:
			s.log.Info("rules reloaded", "file", s.cfg.RulesFile, "rules", len(s.table.Load().rules))
		}
	}
}
