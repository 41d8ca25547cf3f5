package tokens_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func TestRevocationList(t *testing.T) {
	clk := &clock{time.Now()}
	_, _, db := newService(t, keys.ES256, clk)
	ctx := context.Background()
	a := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now})
	b := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now})
	if err := a.Revoke(ctx, "j1", clk.t.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "gone", clk.t.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !a.IsRevoked("j1") || a.IsRevoked("gone") {
		t.Fatal("local revocation not applied")
	}
	// Known here before any sync, and in the feed at once.
	if got := jtis(t, feed(t, a, "")); !slices.Equal(got, []string{"j1"}) {
		t.Fatalf("feed before sync: %v", got)
	}
	if b.IsRevoked("j1") {
		t.Fatal("b knows before syncing")
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.IsRevoked("j1") {
		t.Fatal("sync did not bring j1")
	}
	snap := feed(t, b, "")
	if snap.Type != wire.FeedSnapshot || snap.Next != "" || !slices.Equal(jtis(t, snap), []string{"j1"}) {
		t.Fatalf("snapshot %+v", snap)
	}
	if err := a.Revoke(ctx, "j2", clk.t.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.Sync(ctx)
	inc := feed(t, b, "since="+snap.Cursor)
	if inc.Type != wire.FeedDelta || !slices.Equal(jtis(t, inc), []string{"j2"}) || inc.Cursor == snap.Cursor {
		t.Fatalf("delta %+v", inc)
	}
	if none := feed(t, b, "since="+inc.Cursor); none.Type != wire.FeedDelta || len(none.Entries) != 0 || none.Cursor != inc.Cursor {
		t.Fatalf("empty delta %+v", none)
	}
	// A cursor ahead of the list (another database) gets a snapshot. The
	// snapshot built a moment ago is shared; the delta after it completes it.
	ahead := feed(t, b, "since=999999")
	if ahead.Type != wire.FeedSnapshot || ahead.Cursor != snap.Cursor {
		t.Fatalf("answer to a cursor ahead: %+v", ahead)
	}
	if got := append(jtis(t, ahead), jtis(t, feed(t, b, "since="+ahead.Cursor))...); !slices.Equal(got, []string{"j1", "j2"}) {
		t.Fatalf("snapshot and delta: %v", got)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	b.Sync(ctx)
	if b.IsRevoked("j1") || b.Len() != 0 {
		t.Fatal("expired entries kept")
	}
}

func TestRevocationFeedQuery(t *testing.T) {
	for _, q := range []string{"since=-4", "since=x", "snapshot=3", "after=2", "snapshot=3&after=4", "snapshot=0&after=0", "since=2&snapshot=3&after=1"} {
		v, _ := url.ParseQuery(q)
		if _, err := tokens.ParseFeedQuery(v); !errors.Is(err, tokens.ErrFeedQuery) {
			t.Errorf("%s: %v, want ErrFeedQuery", q, err)
		}
	}
	for _, q := range []string{"", "since=0", "since=12", "snapshot=9&after=0", "snapshot=9&after=9"} {
		v, _ := url.ParseQuery(q)
		if _, err := tokens.ParseFeedQuery(v); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestRevocationFeedPages walks a snapshot of many pages by its next
// links, while revocations keep arriving, and then follows the deltas:
// the consumer ends up with exactly the list.
func TestRevocationFeedPages(t *testing.T) {
	clk := &clock{time.Now()}
	_, _, db := newService(t, keys.ES256, clk)
	ctx := context.Background()
	const n = 1000
	exp := clk.t.Add(time.Hour)
	for i := range n {
		if err := db.Revoke(ctx, fmt.Sprintf("j%04d", i), exp); err != nil {
			t.Fatal(err)
		}
	}
	l := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now, Issuer: "https://issuer.example",
		LoadPage: 64, FeedPage: 70})
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	page := feed(t, l, "")
	cursor := page.Cursor
	pages := 1
	for {
		if page.Type != wire.FeedSnapshot || page.Cursor != cursor {
			t.Fatalf("page %d: %+v", pages, page)
		}
		for _, j := range jtis(t, page) {
			held[j] = true
		}
		// Revocations made while the consumer pages do not disturb the
		// snapshot: its pages are keyed by its cursor.
		db.Revoke(ctx, fmt.Sprintf("late%d", pages), exp)
		l.Sync(ctx)
		if page.Next == "" {
			break
		}
		u, err := url.Parse(page.Next)
		if err != nil || u.Host != "issuer.example" || u.Path != tokens.FeedPath {
			t.Fatalf("next %q", page.Next)
		}
		page = feed(t, l, u.RawQuery)
		pages++
	}
	if len(held) != n || pages != (n+69)/70 {
		t.Fatalf("snapshot: %d entries in %d pages, want %d in %d", len(held), pages, n, (n+69)/70)
	}
	for {
		d := feed(t, l, "since="+cursor)
		for _, j := range jtis(t, d) {
			held[j] = true
		}
		cursor = d.Cursor
		if d.Next == "" {
			break
		}
	}
	if len(held) != n+pages || len(held) != l.Len() {
		t.Fatalf("after deltas: %d entries, list holds %d", len(held), l.Len())
	}
	// The page a consumer already has is not sent again.
	p1, err := l.Feed(ctx, tokens.FeedQuery{})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := l.Feed(ctx, tokens.FeedQuery{})
	if p1.ETag == "" || p1 != p2 {
		t.Fatalf("snapshot page not shared: %q %q", p1.ETag, p2.ETag)
	}
	if p1.Gzipped() == nil {
		t.Fatal("a large snapshot page is not gzipped")
	}
}

// blockingStore holds ListRevocations after its first page until released.
type blockingStore struct {
	store.RevocationStore
	mu      sync.Mutex
	block   bool
	reached chan struct{}
	release chan struct{}
}

func (s *blockingStore) ListRevocations(ctx context.Context, after int64, now time.Time, limit int) ([]store.Revocation, error) {
	s.mu.Lock()
	block := s.block && after > 0
	if block {
		s.block = false
	}
	s.mu.Unlock()
	if block {
		close(s.reached)
		<-s.release
	}
	return s.RevocationStore.ListRevocations(ctx, after, now, limit)
}

// TestRevocationReloadAside holds a reload open after its first page: the
// list keeps answering from the complete old copy, and the feed never
// serves the partial one.
func TestRevocationReloadAside(t *testing.T) {
	clk := &clock{time.Now()}
	_, _, db := newService(t, keys.ES256, clk)
	ctx := context.Background()
	exp := clk.t.Add(time.Hour)
	for i := range 50 {
		db.Revoke(ctx, fmt.Sprintf("j%02d", i), exp)
	}
	bs := &blockingStore{RevocationStore: db, reached: make(chan struct{}), release: make(chan struct{})}
	l := tokens.NewRevocationList(tokens.RevocationConfig{Store: bs, Now: clk.now, LoadPage: 10})
	if err := l.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	bs.mu.Lock()
	bs.block = true
	bs.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- l.Reload(ctx) }()
	<-bs.reached
	if !l.IsRevoked("j49") || l.Len() != 50 {
		t.Fatalf("during the reload: j49 revoked %v, %d entries", l.IsRevoked("j49"), l.Len())
	}
	if got := jtis(t, feed(t, l, "")); len(got) != 50 {
		t.Fatalf("feed during the reload holds %d entries", len(got))
	}
	// A revocation made here during the reload survives the swap, and one
	// made on another replica is synced while the reload is held.
	if err := l.Revoke(ctx, "during", exp); err != nil {
		t.Fatal(err)
	}
	if err := db.Revoke(ctx, "elsewhere", exp); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err != nil || !l.IsRevoked("elsewhere") {
		t.Fatalf("sync during the reload: %v, revoked %v", err, l.IsRevoked("elsewhere"))
	}
	close(bs.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !l.IsRevoked("j49") || !l.IsRevoked("during") || !l.IsRevoked("elsewhere") || l.Len() != 52 {
		t.Fatalf("after the reload: %d entries", l.Len())
	}
}

func feed(t *testing.T, l *tokens.RevocationList, query string) wire.RevocationFeed {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	q, err := tokens.ParseFeedQuery(v)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Feed(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var f wire.RevocationFeed
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return f
}

func jtis(t *testing.T, f wire.RevocationFeed) []string {
	t.Helper()
	var out []string
	for _, e := range f.Entries {
		if e.Kind != wire.RevokeJTI {
			t.Fatalf("entry of kind %q", e.Kind)
		}
		out = append(out, e.Value)
	}
	slices.Sort(out)
	return out
}

// TestRevocationFeedFromEmpty: a consumer that subscribed while the list
// was empty holds cursor 0 and polls with since=0, which asks for a
// snapshot. The first revocation must reach it at its next poll, not when
// a cached snapshot of the empty list has aged out (SnapshotInterval).
func TestRevocationFeedFromEmpty(t *testing.T) {
	clk := &clock{time.Now()}
	_, _, db := newService(t, keys.ES256, clk)
	ctx := context.Background()
	l := tokens.NewRevocationList(tokens.RevocationConfig{Store: db, Now: clk.now, SnapshotInterval: time.Hour})
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first := feed(t, l, "")
	if first.Type != wire.FeedSnapshot || first.Cursor != "0" || len(first.Entries) != 0 {
		t.Fatalf("empty list: %+v", first)
	}
	if err := l.Revoke(ctx, "j1", clk.t.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Revoked here, not synced yet: the list's cursor is still 0.
	if got := jtis(t, feed(t, l, "since="+first.Cursor)); !slices.Equal(got, []string{"j1"}) {
		t.Fatalf("the next poll after the first revocation: %v", got)
	}
	p1, _ := l.Feed(ctx, tokens.FeedQuery{})
	if err := l.Revoke(ctx, "j2", clk.t.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	p2, _ := l.Feed(ctx, tokens.FeedQuery{})
	if p1.ETag == p2.ETag {
		t.Fatalf("two different pages share the ETag %s", p1.ETag)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := feed(t, l, "since=0"); got.Cursor == "0" || !slices.Equal(jtis(t, got), []string{"j1", "j2"}) {
		t.Fatalf("after a sync: %+v", got)
	}
}
