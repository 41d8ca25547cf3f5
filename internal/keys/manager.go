package keys

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

// Store is what the key manager needs from the store.
type Store interface {
	store.KeyStore
	Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error
	Publish(ctx context.Context, c store.Change) error
}

// Config configures a Manager.
type Config struct {
	Store     Store
	MasterKey []byte // at least 32 bytes; private keys are sealed with a key derived from it
	Alg       string // for new keys; default ES256
	// PublishDelay is how long a new key is published before it signs, so
	// every resource server has fetched it first. Default 10 minutes.
	PublishDelay time.Duration
	// RetainFor is how long a retired key stays published: at least the
	// longest access-token lifetime. Default 25 hours.
	RetainFor time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
}

// Manager holds the current signing keys in memory. Its read methods are
// lock-free: a snapshot is swapped atomically on every reload.
type Manager struct {
	cfg  Config
	kek  []byte
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	signer  *Signer
	public  map[string]*jwt.Key // every published key, by kid, bound to its alg
	jwks    []byte
	etag    string
	keys    []store.SigningKey
	loaded  time.Time
	nextDue time.Time // when the schedule must run again (a promotion or a removal)
}

// New returns a Manager. Call Init before use.
func New(cfg Config) (*Manager, error) {
	if cfg.Alg == "" {
		cfg.Alg = ES256
	}
	if _, err := generate(cfg.Alg); err != nil {
		return nil, err
	}
	if cfg.PublishDelay <= 0 {
		cfg.PublishDelay = 10 * time.Minute
	}
	if cfg.RetainFor <= 0 {
		cfg.RetainFor = 25 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	kek, err := DeriveKey(cfg.MasterKey, "signing-key encryption")
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, kek: kek}, nil
}

// Init makes sure an active key exists (creating one on first start, under
// the store's lock so replicas starting together agree) and loads the keys.
func (m *Manager) Init(ctx context.Context) error {
	if err := m.cfg.Store.Lock(ctx, "signing-keys", func(ctx context.Context) error {
		ks, err := m.cfg.Store.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range ks {
			if k.State == store.KeyActive {
				return m.applySchedule(ctx, ks)
			}
		}
		now := m.cfg.Now().UTC()
		if _, err := m.create(ctx, store.KeyActive, now); err != nil {
			return err
		}
		m.cfg.Logger.Info("generated the first signing key", "alg", m.cfg.Alg)
		return nil
	}); err != nil {
		return fmt.Errorf("init signing keys: %w", err)
	}
	return m.Reload(ctx)
}

func (m *Manager) create(ctx context.Context, state string, activates time.Time) (store.SigningKey, error) {
	priv, err := generate(m.cfg.Alg)
	if err != nil {
		return store.SigningKey{}, err
	}
	kid, err := newKID(priv.Public())
	if err != nil {
		return store.SigningKey{}, err
	}
	sealed, err := seal(m.kek, kid, priv)
	if err != nil {
		return store.SigningKey{}, err
	}
	jwk, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: m.cfg.Alg, Use: "sig"})
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("encode jwk: %w", err)
	}
	k := store.SigningKey{KID: kid, Alg: m.cfg.Alg, PrivateKey: sealed, PublicJWK: jwk, State: state,
		CreatedAt: m.cfg.Now().UTC(), ActivatesAt: activates}
	if err := m.cfg.Store.CreateKey(ctx, k); err != nil {
		return store.SigningKey{}, fmt.Errorf("store key %s: %w", kid, err)
	}
	return k, nil
}

// Rotate publishes a new key that starts signing after PublishDelay (or
// after delay when it is positive). It returns the new key's id.
func (m *Manager) Rotate(ctx context.Context, delay time.Duration) (string, error) {
	if delay <= 0 {
		delay = m.cfg.PublishDelay
	}
	var kid string
	err := m.cfg.Store.Lock(ctx, "signing-keys", func(ctx context.Context) error {
		ks, err := m.cfg.Store.ListKeys(ctx)
		if err != nil {
			return err
		}
		// A pending key is replaced rather than stacked, so rotating twice
		// never leaves two keys waiting to sign.
		for _, k := range ks {
			if k.State == store.KeyNext {
				if err := m.cfg.Store.DeleteKey(ctx, k.KID); err != nil {
					return err
				}
			}
		}
		k, err := m.create(ctx, store.KeyNext, m.cfg.Now().UTC().Add(delay))
		kid = k.KID
		return err
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	return kid, m.Reload(ctx)
}

// Tick runs the schedule when something is due: it promotes a pending key
// whose time has come and drops retired keys whose tokens have all expired.
// Callers run it periodically; it is cheap when nothing is due.
func (m *Manager) Tick(ctx context.Context) error {
	s := m.snap.Load()
	if s != nil && (s.nextDue.IsZero() || m.cfg.Now().Before(s.nextDue)) {
		return nil
	}
	if err := m.cfg.Store.Lock(ctx, "signing-keys", func(ctx context.Context) error {
		ks, err := m.cfg.Store.ListKeys(ctx)
		if err != nil {
			return err
		}
		return m.applySchedule(ctx, ks)
	}); err != nil {
		return fmt.Errorf("signing-key schedule: %w", err)
	}
	return m.Reload(ctx)
}

// applySchedule must run under the lock.
func (m *Manager) applySchedule(ctx context.Context, ks []store.SigningKey) error {
	now := m.cfg.Now().UTC()
	var next *store.SigningKey
	for i := range ks {
		if ks[i].State == store.KeyNext && !ks[i].ActivatesAt.After(now) {
			next = &ks[i]
		}
	}
	changed := false
	if next != nil {
		for _, k := range ks {
			if k.State != store.KeyActive {
				continue
			}
			if _, err := m.cfg.Store.UpdateKey(ctx, k.KID, func(k store.SigningKey) (store.SigningKey, error) {
				exp := now.Add(m.cfg.RetainFor)
				k.State, k.RetiresAt, k.ExpiresAt = store.KeyRetired, &now, &exp
				return k, nil
			}); err != nil {
				return err
			}
		}
		if _, err := m.cfg.Store.UpdateKey(ctx, next.KID, func(k store.SigningKey) (store.SigningKey, error) {
			k.State = store.KeyActive
			return k, nil
		}); err != nil {
			return err
		}
		m.cfg.Logger.Info("signing key activated", "kid", next.KID)
		changed = true
	}
	for _, k := range ks {
		if k.State == store.KeyRetired && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
			if err := m.cfg.Store.DeleteKey(ctx, k.KID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			m.cfg.Logger.Info("retired signing key removed", "kid", k.KID)
			changed = true
		}
	}
	if changed {
		return m.cfg.Store.Publish(ctx, store.Change{Kind: store.ChangeKey})
	}
	return nil
}

// Reload reads the keys from the store and swaps the in-memory snapshot.
func (m *Manager) Reload(ctx context.Context) error {
	ks, err := m.cfg.Store.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	now := m.cfg.Now().UTC()
	s := &snapshot{public: make(map[string]*jwt.Key), keys: ks, loaded: now}
	var set jose.JSONWebKeySet
	var signerSince time.Time
	for _, k := range ks {
		if k.State == store.KeyRetired && k.ExpiresAt != nil && !k.ExpiresAt.After(now) {
			continue
		}
		var jwk jose.JSONWebKey
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			return fmt.Errorf("decode public key %s: %w", k.KID, err)
		}
		pub, err := jwt.NewKey(k.KID, k.Alg, jwk.Key)
		if err != nil {
			return fmt.Errorf("public key %s: %w", k.KID, err)
		}
		s.public[k.KID] = pub
		set.Keys = append(set.Keys, jwk)
		switch {
		case k.State == store.KeyActive:
			// Should two keys ever be active, the newest signs.
			if s.signer == nil || k.ActivatesAt.After(signerSince) {
				signerSince = k.ActivatesAt
				priv, err := open(m.kek, k.KID, k.PrivateKey)
				if err != nil {
					return fmt.Errorf("key %s: %w", k.KID, err)
				}
				if s.signer, err = newSigner(k.KID, k.Alg, priv, "at+jwt"); err != nil {
					return err
				}
			}
		case k.State == store.KeyNext:
			s.due(k.ActivatesAt)
		}
		if k.State == store.KeyRetired && k.ExpiresAt != nil {
			s.due(*k.ExpiresAt)
		}
	}
	if s.signer == nil {
		return errors.New("no active signing key")
	}
	if s.jwks, err = json.Marshal(set); err != nil {
		return fmt.Errorf("encode jwks: %w", err)
	}
	sum := sha256.Sum256(s.jwks)
	s.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	m.snap.Store(s)
	return nil
}

func (s *snapshot) due(t time.Time) {
	if s.nextDue.IsZero() || t.Before(s.nextDue) {
		s.nextDue = t
	}
}

// Signer returns the key that signs now.
func (m *Manager) Signer() *Signer { return m.snap.Load().signer }

// Key returns a published key by id, bound to its algorithm: the manager is
// the [jwt.KeySet] that access tokens are verified against.
func (m *Manager) Key(_ context.Context, kid string) (*jwt.Key, error) {
	if k := m.snap.Load().public[kid]; k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: kid %q", jwt.ErrUnknownKey, kid)
}

// JWKS returns the encoded key set and its entity tag.
func (m *Manager) JWKS() ([]byte, string) {
	s := m.snap.Load()
	return s.jwks, s.etag
}

// Keys returns the stored keys as last loaded, without private parts.
func (m *Manager) Keys() []store.SigningKey {
	ks := m.snap.Load().keys
	out := make([]store.SigningKey, len(ks))
	for i, k := range ks {
		k.PrivateKey = nil
		out[i] = k
	}
	return out
}

// Algorithms returns the algorithms of the published keys.
func (m *Manager) Algorithms() []string {
	seen := map[string]bool{}
	var out []string
	for _, pk := range m.snap.Load().public {
		if !seen[pk.Algorithm] {
			seen[pk.Algorithm] = true
			out = append(out, pk.Algorithm)
		}
	}
	return out
}
