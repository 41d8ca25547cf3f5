package tokens

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// RevocationConfig configures a RevocationList.
type RevocationConfig struct {
	Store  store.RevocationStore
	Logger *slog.Logger
	Now    func() time.Time
	// Issuer is the base of the feed's next-page links.
	Issuer string
	// LoadPage is how many entries one store read brings during a sync or
	// reload; default 10,000.
	LoadPage int
	// FeedPage is how many entries one page of the feed holds; default
	// 50,000 (about 3 MB of JSON, 1.2 MB gzipped).
	FeedPage int
	// SnapshotInterval is how long a built feed snapshot is served to new
	// consumers before a newer one is built, when revocations keep coming
	// (the deltas after it make it current); default 10s.
	SnapshotInterval time.Duration
}

// RevocationList is the in-memory copy of the store's revoked jtis. Every
// replica syncs it incrementally (by the store's sequence number) when
// notified of a change and periodically as a backstop, and reloads it
// whole when notifications may have been missed. A reload is built aside
// and swapped in at once, so a check never sees a partial list.
type RevocationList struct {
	cfg RevocationConfig

	mu      sync.RWMutex
	byJTI   map[string]int64 // every known entry: jti -> exp (unix seconds)
	bySeq   []seqEntry       // synced entries in sequence order
	pending map[string]int64 // revoked here, not seen in a sync yet
	cursor  int64            // highest sequence number synced
	pruned  time.Time

	// issuedBefore, when not zero, covers every token whose iat is
	// before it (Unix seconds): those of a tenant issued before it was
	// disabled.
	issuedBefore atomic.Int64

	syncMu   sync.Mutex // one sync (or a reload's swap) at a time
	reloadMu sync.Mutex // one reload at a time
	feed     feedCache
}

// seqEntry is a synced entry; bySeq holds them in sequence order so the
// feed serves a page by binary search instead of a scan.
type seqEntry struct {
	seq int64
	jti string
	exp int64
}

// NewRevocationList returns an empty list; call Reload to load it.
func NewRevocationList(cfg RevocationConfig) *RevocationList {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LoadPage <= 0 {
		cfg.LoadPage = 10_000
	}
	if cfg.FeedPage <= 0 {
		cfg.FeedPage = 50_000
	}
	if cfg.SnapshotInterval <= 0 {
		cfg.SnapshotInterval = 10 * time.Second
	}
	l := &RevocationList{cfg: cfg, byJTI: make(map[string]int64), pending: make(map[string]int64)}
	l.feed.pages = make(map[pageKey]*cachedPage)
	return l
}

// IsRevoked reports whether jti is on the list.
func (l *RevocationList) IsRevoked(jti string) bool {
	l.mu.RLock()
	_, ok := l.byJTI[jti]
	l.mu.RUnlock()
	return ok
}

// Entries of kinds other than jti (docs/revocation-feed.md) are kept in
// the same store table and maps as jtis, under the key "kind:value". A jti
// is base64url and never holds a ':', so the two cannot collide, and the
// store, its sequence numbers and the feed's paging serve every kind alike.
const kindSep = ':'

// entryKey returns the key of an entry of kind for value.
func entryKey(kind, value string) string {
	if kind == wire.RevokeJTI {
		return value
	}
	return kind + string(kindSep) + value
}

// splitKey returns the kind and value of a stored key.
func splitKey(key string) (kind, value string) {
	if i := strings.IndexByte(key, kindSep); i > 0 {
		return key[:i], key[i+1:]
	}
	return wire.RevokeJTI, key
}

// Covers reports whether any entry covers the token with claims c: its jti,
// its session (sid) or the token it was derived from (root_jti).
func (l *RevocationList) Covers(c *wire.Claims) bool {
	if nb := l.issuedBefore.Load(); nb != 0 && c.IssuedAt < nb {
		return true
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if _, ok := l.byJTI[c.ID]; ok {
		return true
	}
	var buf [160]byte
	for _, e := range [...][2]string{{wire.RevokeSession, c.SessionID}, {wire.RevokeRoot, c.RootID}} {
		if e[1] == "" {
			continue
		}
		k := append(append(append(buf[:0], e[0]...), kindSep), e[1]...)
		if _, ok := l.byJTI[string(k)]; ok { // no allocation: the compiler looks up the bytes
			return true
		}
	}
	return false
}

// SetIssuedBefore makes Covers cover every token issued at or before t
// (iat has whole seconds, so a token of t's second is covered too).
func (l *RevocationList) SetIssuedBefore(t time.Time) {
	l.issuedBefore.Store(t.Unix() + 1)
}

// IssuedBefore returns the time set by SetIssuedBefore (Unix seconds;
// tokens issued before it are refused), or zero.
func (l *RevocationList) IssuedBefore() int64 { return l.issuedBefore.Load() }

// RevokeIssuer revokes, until exp, every token of issuer issued before
// before (a tenant disabled or deleted): an entry of kind iss on the feed.
// It also covers them here at once.
func (l *RevocationList) RevokeIssuer(ctx context.Context, issuer string, before, exp time.Time) error {
	l.SetIssuedBefore(before)
	return l.revoke(ctx, entryKey(wire.RevokeIssuer, issuer+issuerSep+strconv.FormatInt(before.Unix()+1, 10)), exp)
}

// issuerSep separates the issuer from the before time in the stored key
// of an iss entry (a URL holds no space).
const issuerSep = " "

// splitIssuer returns the issuer and the before time (as written) of the
// value of a stored iss entry.
func splitIssuer(v string) (issuer, before string) {
	i := strings.LastIndex(v, issuerSep)
	if i < 0 {
		return v, ""
	}
	return v[:i], v[i+1:]
}

// RevokeSession revokes every token of session sid until exp, the latest
// expiry of any token issued in it.
func (l *RevocationList) RevokeSession(ctx context.Context, sid string, exp time.Time) error {
	return l.revoke(ctx, entryKey(wire.RevokeSession, sid), exp)
}

// RevokeDerived revokes every token derived by token exchange from the
// token whose jti is root, until exp (derived tokens never outlive it).
func (l *RevocationList) RevokeDerived(ctx context.Context, root string, exp time.Time) error {
	return l.revoke(ctx, entryKey(wire.RevokeRoot, root), exp)
}

// Revoke puts jti on the list until exp, in the store and in memory. The
// entry is known here at once; other replicas learn it from the store's
// change notification.
func (l *RevocationList) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if strings.IndexByte(jti, kindSep) >= 0 {
		return fmt.Errorf("revoke: %q is not a jti", jti)
	}
	return l.revoke(ctx, jti, exp)
}

func (l *RevocationList) revoke(ctx context.Context, jti string, exp time.Time) error {
	if !exp.After(l.cfg.Now()) {
		return nil // already expired: nothing to remember
	}
	if err := l.cfg.Store.Revoke(ctx, jti, exp); err != nil {
		return fmt.Errorf("revoke %s: %w", jti, err)
	}
	l.mu.Lock()
	if _, ok := l.byJTI[jti]; !ok {
		l.byJTI[jti] = exp.Unix()
		l.pending[jti] = exp.Unix()
	}
	l.mu.Unlock()
	return nil
}

// Sync pulls the entries added since the last sync. Entries that expired
// are dropped now and then.
func (l *RevocationList) Sync(ctx context.Context) error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	return l.syncLocked(ctx)
}

// trySync syncs unless a sync or reload is already running; it reports
// whether it ran.
func (l *RevocationList) trySync(ctx context.Context) bool {
	if !l.syncMu.TryLock() {
		return false
	}
	defer l.syncMu.Unlock()
	return l.syncLocked(ctx) == nil
}

func (l *RevocationList) syncLocked(ctx context.Context) error {
	now := l.cfg.Now()
	for {
		l.mu.RLock()
		cursor := l.cursor
		l.mu.RUnlock()
		rs, err := l.cfg.Store.ListRevocations(ctx, cursor, now, l.cfg.LoadPage)
		if err != nil {
			return fmt.Errorf("sync revocations: %w", err)
		}
		l.mu.Lock()
		for _, r := range rs {
			exp := r.ExpiresAt.Unix()
			l.byJTI[r.JTI] = exp
			delete(l.pending, r.JTI)
			l.bySeq = append(l.bySeq, seqEntry{r.Seq, r.JTI, exp})
			l.cursor = max(l.cursor, r.Seq)
		}
		l.mu.Unlock()
		if len(rs) < l.cfg.LoadPage {
			break
		}
	}
	l.prune(now)
	return nil
}

// prune drops expired entries, at most once every ten seconds: an expired
// entry left a little longer only names a token that is refused anyway.
func (l *RevocationList) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.pruned) < 10*time.Second {
		return
	}
	l.pruned = now
	cut := now.Unix()
	l.bySeq = slices.DeleteFunc(l.bySeq, func(e seqEntry) bool { return e.exp <= cut })
	maps := []map[string]int64{l.byJTI, l.pending}
	for _, m := range maps {
		for jti, exp := range m {
			if exp <= cut {
				delete(m, jti)
			}
		}
	}
}

// Reload reads the whole list from the store into a new list and swaps it
// in at once; until then the current list keeps answering, and keeps
// syncing the entries other replicas add. It is what a replica does when
// notifications may have been missed (a lost LISTEN connection, a
// failover), since the database may then not be the one the list was
// synced from. On error the current list stays.
func (l *RevocationList) Reload(ctx context.Context) error {
	l.reloadMu.Lock()
	defer l.reloadMu.Unlock()
	now := l.cfg.Now()
	next := &RevocationList{cfg: l.cfg, byJTI: make(map[string]int64), pending: make(map[string]int64)}
	if err := next.syncLocked(ctx); err != nil {
		return fmt.Errorf("reload revocations: %w", err)
	}
	// Swap under the sync lock: first catch up with what was added while
	// the load read, so nothing the current list has synced is lost.
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if err := next.syncLocked(ctx); err != nil {
		return fmt.Errorf("reload revocations: %w", err)
	}
	cut := now.Unix()
	l.mu.Lock()
	kept := 0
	for jti, exp := range l.byJTI {
		// Revocations made here and not synced yet, and entries the store
		// no longer has (a failover lost them): a revoked token stays
		// revoked.
		if _, ok := next.byJTI[jti]; !ok && exp > cut {
			next.byJTI[jti] = exp
			next.pending[jti] = exp
			if _, local := l.pending[jti]; !local {
				kept++
			}
		}
	}
	if kept > 0 || next.cursor < l.cursor {
		l.cfg.Logger.Warn("revocation list reloaded from a database that lacks entries this replica held; keeping them",
			"kept", kept, "held_cursor", l.cursor, "store_cursor", next.cursor)
	}
	l.byJTI, l.bySeq, l.pending, l.cursor = next.byJTI, next.bySeq, next.pending, next.cursor
	l.mu.Unlock()
	l.feed.reset()
	return nil
}

// Len returns the number of entries held.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.byJTI)
}

// Cursor returns the highest sequence number synced.
func (l *RevocationList) Cursor() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cursor
}
