package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Limits on what the issuer's revocation feed may send (docs/revocation-feed.md).
const (
	// maxFeedPageBytes bounds one page after decompression; Permiso's pages
	// hold 50,000 entries, about 3.3 MB.
	maxFeedPageBytes = 64 << 20
	// maxRevocations bounds the list, so a broken issuer cannot exhaust memory.
	maxRevocations = 20_000_000
)

// errUnauthorized marks a feed that refused the guard's credentials.
var errUnauthorized = errors.New("the revocation feed refused the guard's credentials (HTTP 401)")

// revocations is the guard's copy of the issuer's revocation list. A
// snapshot is assembled aside, page by page, and swapped in only when its
// last page has arrived; deltas are added in place.
type revocations struct {
	mu  sync.RWMutex
	set map[string]map[string]int64 // kind -> value -> exp (unix seconds)

	synced atomic.Bool // a complete list is held

	// Owned by the poll loop.
	cursor   string
	building map[string]map[string]int64 // a snapshot being assembled
	snapAt   string                      // its cursor
	pruned   time.Time

	stMu      sync.Mutex
	status    RevocationStatus
	warnedFor map[string]bool // unknown kinds already logged
}

// RevocationStatus describes the guard's copy of the revocation list.
type RevocationStatus struct {
	// Following is true when RevocationPoll is set.
	Following bool
	// Synced is true once a complete list is held; it stays true when later
	// polls fail, since the last complete list is still enforced.
	Synced bool
	// Entries is the number of revocations held.
	Entries int
	// LastSync is when the list was last brought up to date.
	LastSync time.Time
	// Error is the last poll's failure, empty when it succeeded.
	Error string
	// Unauthorized is true while the feed refuses the guard (set ClientID
	// and ClientSecret when the issuer requires client authentication); the
	// last complete list stays in use meanwhile.
	Unauthorized bool
	// UnknownKinds lists entry kinds this guard does not know and therefore
	// cannot enforce (see docs/revocation-feed.md).
	UnknownKinds []string
}

// revoked reports whether the token with claims c is on the list.
func (r *revocations) revoked(c *wire.Claims) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.set == nil {
		return false
	}
	if _, ok := r.set[wire.RevokeJTI][c.ID]; ok {
		return true
	}
	if c.SessionID != "" {
		if _, ok := r.set[wire.RevokeSession][c.SessionID]; ok {
			return true
		}
	}
	if c.RootID != "" {
		if _, ok := r.set[wire.RevokeRoot][c.RootID]; ok {
			return true
		}
	}
	// iss entries are few (a tenant disabled or deleted): a scan.
	for k := range r.set[wire.RevokeIssuer] {
		iss, before, _ := strings.Cut(k, issSep)
		if iss == c.Issuer {
			if b, err := strconv.ParseInt(before, 10, 64); err == nil && c.IssuedAt < b {
				return true
			}
		}
	}
	return false
}

// issSep joins an iss entry's issuer and before time in the set's key.
const issSep = " "

func (r *revocations) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, m := range r.set {
		n += len(m)
	}
	return n
}

// add puts entries into set, skipping those already expired at cutoff.
func add(set map[string]map[string]int64, entries []wire.RevocationEntry, cutoff int64) {
	for _, e := range entries {
		if e.Exp != 0 && e.Exp < cutoff {
			continue
		}
		m := set[e.Kind]
		if m == nil {
			m = make(map[string]int64)
			set[e.Kind] = m
		}
		if e.Kind == wire.RevokeIssuer {
			m[e.Value+issSep+strconv.FormatInt(e.Before, 10)] = e.Exp
			continue
		}
		m[e.Value] = e.Exp
	}
}

// apply takes one page of the feed. It reports whether the list changed
// as a whole (a snapshot completed).
func (r *revocations) apply(f *wire.RevocationFeed, now time.Time, leeway time.Duration, continuing bool) (bool, error) {
	cutoff := now.Add(-leeway).Unix()
	switch f.Type {
	case wire.FeedSnapshot:
		if !continuing || r.building == nil || f.Cursor != r.snapAt {
			r.building, r.snapAt = make(map[string]map[string]int64), f.Cursor
		}
		add(r.building, f.Entries, cutoff)
		if size(r.building) > maxRevocations {
			r.building = nil
			return false, fmt.Errorf("revocation list exceeds %d entries", maxRevocations)
		}
		if f.Next != "" {
			return false, nil
		}
		r.mu.Lock()
		r.set = r.building
		r.mu.Unlock()
		r.building, r.cursor = nil, f.Cursor
		r.synced.Store(true)
		return true, nil
	case wire.FeedDelta:
		if continuing && r.building != nil {
			return false, errors.New("revocation feed: a delta page in the middle of a snapshot")
		}
		r.mu.Lock()
		if r.set == nil {
			r.set = make(map[string]map[string]int64)
		}
		add(r.set, f.Entries, cutoff)
		if now.Sub(r.pruned) > time.Minute {
			r.pruned = now
			for _, m := range r.set {
				for v, exp := range m {
					if exp != 0 && exp < cutoff {
						delete(m, v)
					}
				}
			}
		}
		r.mu.Unlock()
		r.cursor = f.Cursor
		return false, nil
	}
	return false, fmt.Errorf("revocation feed: unknown answer type %q", f.Type)
}

func size(set map[string]map[string]int64) int {
	n := 0
	for _, m := range set {
		n += len(m)
	}
	return n
}

// pollRevocations follows the issuer's revocation list until ctx is done.
func (g *Guard) pollRevocations(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := g.cfg.RevocationPoll
		err := g.pollOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		g.revs.record(err, g.cfg.Now(), g.revs.len())
		if err != nil {
			failures++
			g.log.Warn("revocation list poll failed; keeping the last complete list", "consecutive_failures", failures, "error", err)
			if !g.revs.synced.Load() {
				wait = min(time.Second<<min(failures, 5), g.cfg.RevocationPoll)
			}
		} else {
			failures = 0
		}
		t.Reset(wait)
	}
}

// pollOnce brings the list up to date: the entries after the cursor, or a
// whole snapshot, following next links until the answer is complete.
func (g *Guard) pollOnce(ctx context.Context) error {
	md, err := g.metadata(ctx)
	if err != nil {
		return err
	}
	if md.RevocationListEndpoint == "" {
		return errors.New("issuer metadata has no revocation_list_endpoint")
	}
	base, err := url.Parse(md.RevocationListEndpoint)
	if err != nil {
		return fmt.Errorf("revocation_list_endpoint: %w", err)
	}
	u := *base
	if g.revs.cursor != "" {
		q := u.Query()
		q.Set("since", g.revs.cursor)
		u.RawQuery = q.Encode()
	}
	continuing := false
	for pages := 0; ; pages++ {
		f, err := g.fetchFeed(ctx, u.String())
		if err != nil {
			g.revs.building = nil // a snapshot is taken whole or not at all
			return err
		}
		g.revs.noteKinds(f.Entries, g.log)
		full, err := g.revs.apply(f, g.cfg.Now(), g.cfg.Leeway, continuing)
		if err != nil {
			g.revs.building = nil
			return err
		}
		if full {
			g.log.Debug("revocation list replaced", "entries", g.revs.len(), "pages", pages+1, "cursor", f.Cursor)
		} else if len(f.Entries) > 0 && f.Type == wire.FeedDelta {
			g.log.Debug("revocation list updated", "new", len(f.Entries), "cursor", f.Cursor)
		}
		if f.Next == "" {
			return nil
		}
		next, err := base.Parse(f.Next)
		if err != nil || next.Scheme != base.Scheme || next.Host != base.Host {
			g.revs.building = nil
			return fmt.Errorf("revocation feed: next link %q leaves %s", f.Next, base.Host)
		}
		u, continuing = *next, true
	}
}

// fetchFeed GETs one page of the feed.
func (g *Guard) fetchFeed(ctx context.Context, u string) (*wire.RevocationFeed, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build revocation list request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if g.cfg.ClientID != "" && g.cfg.ClientSecret != "" {
		// RFC 6749 §2.3.1: both parts are form-urlencoded first.
		req.SetBasicAuth(url.QueryEscape(g.cfg.ClientID), url.QueryEscape(g.cfg.ClientSecret))
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch revocation list: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, errUnauthorized
	case resp.StatusCode != http.StatusOK:
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("fetch revocation list: HTTP %d", resp.StatusCode)
	}
	var f wire.RevocationFeed
	lr := &io.LimitedReader{R: resp.Body, N: maxFeedPageBytes + 1}
	if err := json.NewDecoder(lr).Decode(&f); err != nil {
		if lr.N <= 0 {
			return nil, fmt.Errorf("revocation feed page exceeds %d bytes", maxFeedPageBytes)
		}
		return nil, fmt.Errorf("decode revocation list: %w", err)
	}
	return &f, nil
}

// noteKinds remembers and logs, once each, entry kinds this guard cannot
// enforce.
func (r *revocations) noteKinds(entries []wire.RevocationEntry, log interface{ Warn(string, ...any) }) {
	for _, e := range entries {
		if e.Kind == wire.RevokeJTI || e.Kind == wire.RevokeSession || e.Kind == wire.RevokeRoot || e.Kind == wire.RevokeIssuer {
			continue
		}
		r.stMu.Lock()
		if r.warnedFor == nil {
			r.warnedFor = make(map[string]bool)
		}
		if !r.warnedFor[e.Kind] && len(r.warnedFor) < 16 {
			r.warnedFor[e.Kind] = true
			r.status.UnknownKinds = append(r.status.UnknownKinds, e.Kind)
			slices.Sort(r.status.UnknownKinds)
			log.Warn("revocation feed entry of a kind this guard does not know; update the SDK to enforce it", "kind", e.Kind)
		}
		r.stMu.Unlock()
	}
}

// record keeps the outcome of a poll for Status.
func (r *revocations) record(err error, now time.Time, entries int) {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	r.status.Synced, r.status.Entries = r.synced.Load(), entries
	r.status.Unauthorized = errors.Is(err, errUnauthorized)
	if err != nil {
		r.status.Error = err.Error()
		return
	}
	r.status.Error, r.status.LastSync = "", now
}

func (r *revocations) statusCopy() RevocationStatus {
	r.stMu.Lock()
	defer r.stMu.Unlock()
	s := r.status
	s.UnknownKinds = slices.Clone(s.UnknownKinds)
	return s
}
