package tokens

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// The revocation feed (docs/revocation-feed.md): a snapshot of the list in
// pages keyed by the snapshot's cursor and the last sequence number of the
// previous page, so any replica synced that far serves the same page, and
// deltas by cursor. Snapshot pages are built once and shared by every
// consumer, already gzipped.

// FeedPath is where the feed is served.
const FeedPath = "/oauth2/revocations"

// Feed errors.
var (
	// ErrFeedQuery is a malformed query; the message says what is wrong.
	ErrFeedQuery = errors.New("bad revocation feed query")
	// ErrFeedBehind means this replica has not synced as far as the
	// snapshot asked for and could not catch up now; retry shortly.
	ErrFeedBehind = errors.New("revocation list behind the requested snapshot")
)

// FeedQuery is what a consumer asks for.
type FeedQuery struct {
	Since    int64 // a delta after this cursor; 0 asks for a snapshot
	Snapshot int64 // with After: a further page of the snapshot at this cursor
	After    int64
}

// ParseFeedQuery reads since, or snapshot and after.
func ParseFeedQuery(q url.Values) (FeedQuery, error) {
	var fq FeedQuery
	num := func(name string) (int64, bool, error) {
		s := q.Get(name)
		if s == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, true, queryError(name + " must be a cursor this feed returned (a non-negative integer)")
		}
		return n, true, nil
	}
	var err error
	var hasSnap, hasAfter bool
	if fq.Since, _, err = num("since"); err != nil {
		return fq, err
	}
	if fq.Snapshot, hasSnap, err = num("snapshot"); err != nil {
		return fq, err
	}
	if fq.After, hasAfter, err = num("after"); err != nil {
		return fq, err
	}
	if hasSnap != hasAfter || (hasSnap && (fq.Since != 0 || fq.Snapshot == 0 || fq.After > fq.Snapshot)) {
		return fq, queryError("snapshot and after come together, from a next link")
	}
	return fq, nil
}

// queryError is an ErrFeedQuery whose text is safe to show the consumer.
type queryError string

func (e queryError) Error() string        { return string(e) }
func (e queryError) Is(target error) bool { return target == ErrFeedQuery }

// FeedPage is one rendered answer of the feed.
type FeedPage struct {
	Type    string // wire.FeedSnapshot or wire.FeedDelta
	ETag    string // weak; equal ETags mean equal entries
	Entries int
	body    []byte // JSON; nil when only gz is kept
	gz      []byte // gzip of the JSON; nil when not worth it
}

// Gzipped returns the gzipped JSON, or nil when the page is kept plain.
func (p *FeedPage) Gzipped() []byte { return p.gz }

// JSON returns the page as JSON, inflating it when only the gzipped form
// is kept (consumers that do not accept gzip are rare).
func (p *FeedPage) JSON() ([]byte, error) {
	if p.body != nil {
		return p.body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(p.gz))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(zr)
	return b.Bytes(), err
}

type pageKey struct{ snapshot, after int64 }

type cachedPage struct {
	done chan struct{}
	page *FeedPage
}

// feedCache holds built snapshot pages: those of the latest snapshot and
// of the one before (consumers may still be paging through it), and a few
// of snapshots other replicas started.
type feedCache struct {
	mu       sync.Mutex
	pages    map[pageKey]*cachedPage
	latest   int64 // cursor of the snapshot new consumers get
	latestAt time.Time
	prev     int64
	built    bool
}

func (f *feedCache) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pages = make(map[pageKey]*cachedPage)
	f.built = false
}

// maxCachedPages bounds pages of snapshots other than the latest two.
const maxCachedPages = 64

// Feed answers a query. Errors wrap ErrFeedQuery or ErrFeedBehind.
func (l *RevocationList) Feed(ctx context.Context, q FeedQuery) (*FeedPage, error) {
	switch {
	case q.Snapshot > 0:
		if err := l.catchUp(ctx, q.Snapshot); err != nil {
			return nil, err
		}
		return l.snapshotPage(pageKey{q.Snapshot, q.After}), nil
	case q.Since > 0:
		if l.catchUp(ctx, q.Since) == nil {
			return l.delta(q.Since), nil
		}
		// A cursor ahead of this list: the database was replaced or the
		// consumer comes from a replica that is further along. A snapshot
		// is right either way.
	}
	cur := l.snapshotCursor()
	if cur == 0 {
		// Nothing synced yet: the snapshot is cheap, and its consumers,
		// holding cursor 0, can only ask for snapshots. A cached one would
		// hide the revocations made here meanwhile (pending) from every
		// guard for up to SnapshotInterval; each gets a fresh one.
		p := l.buildSnapshotPage(pageKey{0, 0})
		p.ETag = `W/"s0.0.` + strconv.Itoa(p.Entries) + `"`
		return p, nil
	}
	return l.snapshotPage(pageKey{cur, 0}), nil
}

// catchUp makes sure the list has synced to cursor, syncing once if it
// has not (another replica may be a moment ahead).
func (l *RevocationList) catchUp(ctx context.Context, cursor int64) error {
	if l.Cursor() >= cursor {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	l.trySync(ctx)
	if l.Cursor() >= cursor {
		return nil
	}
	return ErrFeedBehind
}

// snapshotCursor picks the snapshot new consumers get: the latest built
// one while it is current or young, else one at the list's cursor.
func (l *RevocationList) snapshotCursor() int64 {
	cur, now := l.Cursor(), l.cfg.Now()
	f := &l.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	// An empty snapshot (cursor 0) is never reused: see Feed.
	if f.built && f.latest > 0 && (f.latest == cur || now.Sub(f.latestAt) < l.cfg.SnapshotInterval) {
		return f.latest
	}
	if f.built && f.latest != cur {
		f.prev = f.latest
	}
	f.latest, f.latestAt, f.built = cur, now, true
	for k := range f.pages {
		if k.snapshot != f.latest && k.snapshot != f.prev {
			delete(f.pages, k)
		}
	}
	return cur
}

// snapshotPage returns the page for k, building it once.
func (l *RevocationList) snapshotPage(k pageKey) *FeedPage {
	f := &l.feed
	f.mu.Lock()
	if c, ok := f.pages[k]; ok {
		f.mu.Unlock()
		<-c.done
		return c.page
	}
	if len(f.pages) >= maxCachedPages {
		for key := range f.pages {
			if key.snapshot != f.latest && key.snapshot != f.prev {
				delete(f.pages, key)
			}
		}
	}
	c := &cachedPage{done: make(chan struct{})}
	f.pages[k] = c
	f.mu.Unlock()
	c.page = l.buildSnapshotPage(k)
	close(c.done)
	return c.page
}

func (l *RevocationList) buildSnapshotPage(k pageKey) *FeedPage {
	now := l.cfg.Now().Unix()
	var entries []seqEntry
	more := false
	l.mu.RLock()
	i := sort.Search(len(l.bySeq), func(i int) bool { return l.bySeq[i].seq > k.after })
	for ; i < len(l.bySeq) && l.bySeq[i].seq <= k.snapshot; i++ {
		if len(entries) == l.cfg.FeedPage {
			more = true
			break
		}
		if e := l.bySeq[i]; e.exp > now {
			entries = append(entries, e)
		}
	}
	if k.after == 0 {
		entries = l.appendPending(entries, now)
	}
	l.mu.RUnlock()
	next := ""
	if more {
		next = l.pageURL("snapshot", k.snapshot, entries[len(entries)-1].seq)
	}
	p := render(wire.FeedSnapshot, k.snapshot, entries, next)
	p.ETag = `W/"s` + strconv.FormatInt(k.snapshot, 10) + "." + strconv.FormatInt(k.after, 10) + "." + strconv.Itoa(l.cfg.FeedPage) + `"`
	return p.compress(true)
}

// delta renders the entries after since, up to a page; the cursor of a
// page that is not the last is the last sequence number it holds.
func (l *RevocationList) delta(since int64) *FeedPage {
	now := l.cfg.Now().Unix()
	var entries []seqEntry
	l.mu.RLock()
	cursor := l.cursor
	i := sort.Search(len(l.bySeq), func(i int) bool { return l.bySeq[i].seq > since })
	for ; i < len(l.bySeq); i++ {
		if len(entries) == l.cfg.FeedPage {
			cursor = entries[len(entries)-1].seq
			break
		}
		if e := l.bySeq[i]; e.exp > now {
			entries = append(entries, e)
		}
	}
	entries = l.appendPending(entries, now)
	pending := len(l.pending)
	l.mu.RUnlock()
	next := ""
	if cursor < l.Cursor() {
		next = l.pageURL("since", cursor, 0)
	}
	p := render(wire.FeedDelta, cursor, entries, next)
	p.ETag = `W/"d` + strconv.FormatInt(since, 10) + "." + strconv.FormatInt(cursor, 10) + "." + strconv.Itoa(pending) + `"`
	return p.compress(false)
}

// appendPending adds the entries revoked here that no sync brought yet
// (sequence 0); the caller holds mu.
func (l *RevocationList) appendPending(entries []seqEntry, now int64) []seqEntry {
	for jti, exp := range l.pending {
		if exp > now {
			entries = append(entries, seqEntry{0, jti, exp})
		}
	}
	return entries
}

func (l *RevocationList) pageURL(param string, cursor, after int64) string {
	q := url.Values{param: {strconv.FormatInt(cursor, 10)}}
	if param == "snapshot" {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	return l.cfg.Issuer + FeedPath + "?" + q.Encode()
}

// render writes the page's JSON by hand: a snapshot page holds 50,000
// entries, and reflection would triple its cost.
func render(typ string, cursor int64, entries []seqEntry, next string) *FeedPage {
	b := make([]byte, 0, 64+len(entries)*66+len(next))
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","cursor":"`...)
	b = strconv.AppendInt(b, cursor, 10)
	b = append(b, `","entries":[`...)
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		kind, value := splitKey(e.jti)
		var before string
		if kind == wire.RevokeIssuer {
			value, before = splitIssuer(value)
		}
		b = append(b, `{"kind":"`...)
		b = append(b, kind...)
		b = append(b, `","value":`...)
		b = appendJSONString(b, value)
		b = append(b, `,"exp":`...)
		b = strconv.AppendInt(b, e.exp, 10)
		if before != "" {
			b = append(b, `,"before":`...)
			b = append(b, before...)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if next != "" {
		b = append(b, `,"next":`...)
		b = appendJSONString(b, next)
	}
	b = append(b, "}\n"...)
	return &FeedPage{Type: typ, Entries: len(entries), body: b}
}

// appendJSONString quotes s; our jtis are base64url and take the fast path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// compress gzips pages worth it. A shared snapshot page keeps only the
// gzipped form (a million entries are 65 MB of JSON, 25 MB gzipped).
func (p *FeedPage) compress(dropPlain bool) *FeedPage {
	if len(p.body) < 1024 {
		return p
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed) // a valid level never fails
	zw.Write(p.body)
	zw.Close()
	p.gz = b.Bytes()
	if dropPlain {
		p.body = nil
	}
	return p
}
