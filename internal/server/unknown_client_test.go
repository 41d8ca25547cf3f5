package server_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/internal/store"
)

// countingStore counts the client lookups that reach the database.
type countingStore struct {
	store.Store
	lookups *atomic.Int64
}

func (s countingStore) GetClient(ctx context.Context, clientID string) (store.Client, error) {
	s.lookups.Add(1)
	return s.Store.GetClient(ctx, clientID)
}

// TestUnknownClientFlood: token requests with made-up client_ids are
// refused from memory. With the clock standing still, no more than the
// cache's probe allowance (20) of 600 such requests reaches the
// database, and the known client is served throughout.
func TestUnknownClientFlood(t *testing.T) {
	var lookups atomic.Int64
	frozen := time.Now()
	ts := newTestServer(t, func(c *server.Config) {
		c.Now = func() time.Time { return frozen }
		c.AuthFailuresPerMin = 1 << 30 // the per-address lockout would hide the cache
		c.StoreHook = func(s store.Store) store.Store { return countingStore{s, &lookups} }
	})
	id, secret := ts.createClient(map[string]any{"name": "Known", "scope_ids": []string{"trade:read"}})
	ts.token(id, secret, nil)
	before := lookups.Load()
	const flood = 600
	for i := range flood {
		r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "made-up-"+rand.Text(), "whatever")
		if r.Status != 401 || r.str("error") != "invalid_client" {
			t.Fatalf("request %d with an unknown client_id: %d %s", i, r.Status, r.Body)
		}
		if i%100 == 0 {
			ts.token(id, secret, nil)
		}
	}
	if n := lookups.Load() - before; n > 20 {
		t.Fatalf("%d of %d lookups of unknown client_ids reached the database, want at most 20", n, flood)
	}
	ts.token(id, secret, nil)
}

// logRecorder keeps the records a server writes, after its throttling.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.records = append(l.records, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records with msg at level were written, and how
// many occurrences they stand for (each plus its "repeated" count).
func (l *logRecorder) count(level slog.Level, msg string) (written, occurrences int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.records {
		if r.Level != level || r.Message != msg {
			continue
		}
		written++
		occurrences++
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "repeated" {
				occurrences += int(a.Value.Int64())
			}
			return true
		})
	}
	return written, occurrences
}
