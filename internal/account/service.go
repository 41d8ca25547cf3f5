package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Store is what the account service reads and writes.
type Store interface {
	store.UserStore
	store.SessionStore
	GetRole(ctx context.Context, id string) (store.Role, error)
	GetRoleByName(ctx context.Context, name string) (store.Role, error)
}

// Recorder receives audit events; audit.Recorder satisfies it.
type Recorder interface {
	Record(ctx context.Context, e store.AuditEvent)
}

// Audit outcomes, as the audit package spells them.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
	outcomeDenied  = "denied"
)

// Config configures a [Service]. Store is required; every other zero value
// selects the documented default.
type Config struct {
	Store  Store
	Audit  Recorder     // nil: events are dropped
	Logger *slog.Logger // nil: discard
	Now    func() time.Time
	// MaxLoginAttempts is how many consecutive wrong passwords from one
	// source (an IPv4 address or an IPv6 /64) lock that source out of the
	// account; default 5.
	MaxLoginAttempts int
	// MaxUserLoginAttempts is how many wrong passwords from all sources
	// together within LockoutDuration lock the account from every source;
	// default (and at least) 4 × MaxLoginAttempts, so that one source
	// never reaches it.
	MaxUserLoginAttempts int
	// LockoutDuration is how long a lock lasts; default 15 minutes.
	LockoutDuration time.Duration
	// DefaultUserRole is given to registered users; default "user". A role
	// that does not exist is skipped with a warning.
	DefaultUserRole string
	// Policy is the password policy; the zero value means DefaultPolicy().
	Policy *Policy
	// Mailer sends password-reset and verification mail; nil writes the
	// messages to Logger (development).
	Mailer Mailer
	// HashParams are the Argon2id parameters of new hashes; zero means
	// DefaultParams (the original Permiso's).
	HashParams HashParams
	// HashConcurrency bounds the Argon2id computations running at once
	// (each holds HashParams.Memory); zero means GOMAXPROCS.
	HashConcurrency int
	// SessionLifetime is how long a login session lasts; default 7 days
	// (the refresh-token lifetime, so refreshing never outlives it).
	SessionLifetime time.Duration
	// ResetTokenLifetime and VerifyTokenLifetime bound mailed tokens;
	// defaults 24 and 48 hours.
	ResetTokenLifetime  time.Duration
	VerifyTokenLifetime time.Duration
	// BaseURL is the public URL of Permiso, used in mailed instructions.
	BaseURL string
	// Sessions publishes ended sessions on the revocation list (its sid
	// entries), so every token issued in one, and every token derived from
	// those, is refused at guards that follow the list too; nil: ended
	// sessions are known to introspection only.
	Sessions SessionRevoker
	// TokenLifetime is the longest life of a token issued in a session
	// (user access tokens; tokens derived from them never outlive them),
	// how long a published session entry is kept; default 30 minutes.
	TokenLifetime time.Duration
}

// SessionRevoker publishes the end of a session until exp (the revocation
// list implements it).
type SessionRevoker interface {
	RevokeSession(ctx context.Context, sessionID string, exp time.Time) error
}

// Service owns users' credentials and sessions: registration, password
// checks with lockout, password changes and resets, email verification,
// and the liveness of user tokens.
type Service struct {
	cfg    Config
	dummy  string // a hash verified when the user is unknown, so timing does not tell
	mails  chan struct{}
	hashes hashPool
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("account: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Audit == nil {
		cfg.Audit = discard{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxLoginAttempts <= 0 {
		cfg.MaxLoginAttempts = 5
	}
	if cfg.LockoutDuration <= 0 {
		cfg.LockoutDuration = 15 * time.Minute
	}
	if cfg.MaxUserLoginAttempts <= cfg.MaxLoginAttempts {
		cfg.MaxUserLoginAttempts = 4 * cfg.MaxLoginAttempts
	}
	if cfg.DefaultUserRole == "" {
		cfg.DefaultUserRole = "user"
	}
	if cfg.Policy == nil {
		p := DefaultPolicy()
		cfg.Policy = &p
	}
	if cfg.HashParams == (HashParams{}) {
		cfg.HashParams = DefaultParams
	}
	if cfg.Mailer == nil {
		cfg.Mailer = LogMailer{Logger: cfg.Logger}
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 7 * 24 * time.Hour
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 30 * time.Minute
	}
	if cfg.ResetTokenLifetime <= 0 {
		cfg.ResetTokenLifetime = 24 * time.Hour
	}
	if cfg.VerifyTokenLifetime <= 0 {
		cfg.VerifyTokenLifetime = 48 * time.Hour
	}
	return &Service{cfg: cfg, dummy: dummyHash(cfg.HashParams), mails: make(chan struct{}, 8),
		hashes: newHashPool(cfg.HashConcurrency)}, nil
}

// Policy returns the password policy in force.
func (s *Service) Policy() Policy { return *s.cfg.Policy }

// Now returns the service's clock reading.
func (s *Service) Now() time.Time { return s.cfg.Now() }

type discard struct{}

func (discard) Record(context.Context, store.AuditEvent) {}

// Meta is the request context of an account action, for the audit log.
type Meta struct {
	IP        string
	UserAgent string
	RequestID string
	// ActorID is the user (or client) acting; empty for anonymous requests.
	ActorID   string
	ActorType string
}

func (s *Service) record(ctx context.Context, m Meta, typ, outcome, target string, details map[string]any) {
	e := store.AuditEvent{Type: typ, Outcome: outcome, ActorType: m.ActorType, ActorID: m.ActorID, Target: target,
		IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, Details: details}
	if e.RequestID == "" {
		e.RequestID = web.RequestID(ctx)
	}
	if e.ActorType == "" {
		e.ActorType = "anonymous"
	}
	s.cfg.Audit.Record(ctx, e)
}

// unavailable wraps a store failure as a 503 that reveals nothing.
func unavailable(what string, err error) error {
	return web.Unavailable(fmt.Errorf("%s: %w", what, err))
}

// Login errors. Every wrong login or password is the same error, so an
// answer never tells whether a user exists.
func errInvalidLogin() *web.Error {
	return web.Errorf(http.StatusUnauthorized, wire.ErrInvalidGrant, "Invalid username or password")
}

func errDisabled() *web.Error {
	return web.Errorf(http.StatusForbidden, wire.ErrAccountDisabled, "The account is disabled")
}

func errLocked(until time.Time) *web.Error {
	return web.Errorf(http.StatusLocked, wire.ErrAccountLocked, "The account is locked after too many failed login attempts").
		With("locked_until", until.UTC().Format(time.RFC3339))
}

// Locked reports whether a lock of u, of any source, is running at now.
func Locked(u *store.User, now time.Time) bool {
	return u.LockedUntil != nil && u.LockedUntil.After(now)
}
