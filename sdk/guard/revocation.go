package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// revocations is the set of revoked token ids, copied on write so that the
// per-request check is one atomic load and a map lookup.
type revocations struct {
	set    atomic.Pointer[map[string]int64] // jti -> exp (unix seconds)
	cursor int64                            // owned by the poll loop
	synced atomic.Bool                      // the list has been fetched once
}

// revoked reports whether jti is on the list.
func (r *revocations) revoked(jti string) bool {
	m := r.set.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[jti]
	return ok
}

// apply merges a page of the list (replacing the set when it is full) and
// drops entries whose token has expired. It reports the number of entries.
func (r *revocations) apply(l *wire.RevocationList, now time.Time, leeway time.Duration) int {
	next := make(map[string]int64)
	if old := r.set.Load(); old != nil && !l.Full {
		maps.Copy(next, *old)
	}
	for _, t := range l.Revoked {
		next[t.JTI] = t.ExpiresAt
	}
	cutoff := now.Add(-leeway).Unix()
	maps.DeleteFunc(next, func(_ string, exp int64) bool { return exp != 0 && exp < cutoff })
	r.set.Store(&next)
	r.cursor = l.Cursor
	r.synced.Store(true)
	return len(next)
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
		if err := g.pollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			g.log.Warn("revocation list poll failed", "consecutive_failures", failures, "error", err)
			if !g.revs.synced.Load() {
				wait = min(time.Second<<min(failures, 5), g.cfg.RevocationPoll)
			}
		} else {
			failures = 0
		}
		t.Reset(wait)
	}
}

// pollOnce fetches the revocation list entries newer than the cursor.
func (g *Guard) pollOnce(ctx context.Context) error {
	md, err := g.metadata(ctx)
	if err != nil {
		return err
	}
	if md.RevocationListEndpoint == "" {
		return errors.New("issuer metadata has no revocation_list_endpoint")
	}
	u, err := url.Parse(md.RevocationListEndpoint)
	if err != nil {
		return fmt.Errorf("revocation_list_endpoint: %w", err)
	}
	q := u.Query()
	q.Set("since", strconv.FormatInt(g.revs.cursor, 10))
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("build revocation list request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch revocation list: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch revocation list: HTTP %d", resp.StatusCode)
	}
	var l wire.RevocationList
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&l); err != nil {
		return fmt.Errorf("decode revocation list: %w", err)
	}
	before := g.revs.cursor
	n := g.revs.apply(&l, g.cfg.Now(), g.cfg.Leeway)
	if len(l.Revoked) > 0 || l.Full && before != l.Cursor {
		g.log.Debug("revocation list updated", "new", len(l.Revoked), "total", n, "cursor", l.Cursor, "full", l.Full)
	}
	return nil
}
