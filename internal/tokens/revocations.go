package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// RevocationConfig configures a RevocationList.
type RevocationConfig struct {
	Store  store.RevocationStore
	Logger *slog.Logger
	Now    func() time.Time
}

// RevocationList is the in-memory copy of the store's revoked jtis. Every
// replica syncs it incrementally (by sequence number) when notified of a
// change and periodically as a backstop.
type RevocationList struct {
	cfg RevocationConfig

	mu      sync.RWMutex
	entries map[string]revoked
	cursor  int64
	syncMu  sync.Mutex
}

// revoked is what the list keeps per jti: 16 bytes beside the key, since a
// busy server holds hundreds of thousands of them.
type revoked struct {
	seq int64 // 0 until the store's sequence number is known
	exp int64 // unix seconds
}

// NewRevocationList returns an empty list; call Sync to load it.
func NewRevocationList(cfg RevocationConfig) *RevocationList {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &RevocationList{cfg: cfg, entries: make(map[string]revoked)}
}

// IsRevoked reports whether jti is on the list.
func (l *RevocationList) IsRevoked(jti string) bool {
	l.mu.RLock()
	_, ok := l.entries[jti]
	l.mu.RUnlock()
	return ok
}

// Revoke puts jti on the list until exp, in the store and in memory.
func (l *RevocationList) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if !exp.After(l.cfg.Now()) {
		return nil // already expired: nothing to remember
	}
	if err := l.cfg.Store.Revoke(ctx, jti, exp); err != nil {
		return fmt.Errorf("revoke %s: %w", jti, err)
	}
	// The local copy learns the store's sequence number at the next sync;
	// until then the entry keeps seq 0 so it is served as "new".
	l.mu.Lock()
	if _, ok := l.entries[jti]; !ok {
		l.entries[jti] = revoked{exp: exp.Unix()}
	}
	l.mu.Unlock()
	return l.Sync(ctx)
}

// Sync pulls entries newer than the cursor and drops expired ones.
func (l *RevocationList) Sync(ctx context.Context) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	now := l.cfg.Now()
	for {
		l.mu.RLock()
		cursor := l.cursor
		l.mu.RUnlock()
		rs, err := l.cfg.Store.ListRevocations(ctx, cursor, now, 1000)
		if err != nil {
			return fmt.Errorf("sync revocations: %w", err)
		}
		l.mu.Lock()
		for _, r := range rs {
			l.entries[r.JTI] = revoked{seq: r.Seq, exp: r.ExpiresAt.Unix()}
			if r.Seq > l.cursor {
				l.cursor = r.Seq
			}
		}
		l.mu.Unlock()
		if len(rs) < 1000 {
			break
		}
	}
	l.mu.Lock()
	for jti, r := range l.entries {
		if r.exp <= now.Unix() {
			delete(l.entries, jti)
		}
	}
	l.mu.Unlock()
	return nil
}

// Reset forgets everything and reloads, for when notifications may have
// been missed.
func (l *RevocationList) Reset(ctx context.Context) error {
	l.mu.Lock()
	l.entries = make(map[string]revoked)
	l.cursor = 0
	l.mu.Unlock()
	return l.Sync(ctx)
}

// Len returns the number of entries held.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.entries)
}

// Since returns the entries a resource server holding cursor lacks. A
// cursor ahead of ours (the server's database was replaced) gets the full
// list. Entries that expired are gone from both sides, so an incremental
// answer is always complete.
func (l *RevocationList) Since(cursor int64) wire.RevocationList {
	l.mu.RLock()
	defer l.mu.RUnlock()
	full := cursor <= 0 || cursor > l.cursor
	out := wire.RevocationList{Cursor: l.cursor, Full: full, Revoked: []wire.RevokedToken{}}
	for jti, r := range l.entries {
		if full || r.seq > cursor || r.seq == 0 {
			out.Revoked = append(out.Revoked, wire.RevokedToken{JTI: jti, ExpiresAt: r.exp})
		}
	}
	return out
}
