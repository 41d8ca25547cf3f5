package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// getFeed fetches a page of the feed as a consumer would, with the given
// request headers, and decodes it when the answer is 200.
func getFeed(t *testing.T, url string, h http.Header) (*http.Response, wire.RevocationFeed) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	// A transport that leaves Accept-Encoding and the body as sent.
	res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var f wire.RevocationFeed
	if res.StatusCode == 200 {
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		}
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatalf("%s: %v: %s", url, err, body)
		}
	}
	return res, f
}

// TestRevocationFeedHTTP checks the feed's protocol: snapshot, delta,
// conditional requests, compression, refusal of a bad query, and the
// option that requires client authentication.
func TestRevocationFeedHTTP(t *testing.T) {
	ts := newTestServer(t, nil)
	id, secret := ts.createClient(map[string]any{"name": "Feed", "scope_ids": []string{"trade:read"}})
	var jtis []string
	for range 40 { // enough for a page worth compressing
		tok := ts.token(id, secret, nil)
		if r := ts.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret); r.Status != 200 {
			t.Fatalf("revoke: %d", r.Status)
		}
		jtis = append(jtis, decodeClaims(t, tok)["jti"].(string))
	}
	feedURL := ts.URL + "/oauth2/revocations"
	res, snap := getFeed(t, feedURL, http.Header{"Accept-Encoding": {"gzip"}})
	if res.StatusCode != 200 || snap.Type != wire.FeedSnapshot || snap.Next != "" || len(snap.Entries) != len(jtis) {
		t.Fatalf("snapshot: %d %+v", res.StatusCode, snap)
	}
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("ETag") == "" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("snapshot headers: %v", res.Header)
	}
	if res, _ := getFeed(t, feedURL, http.Header{"If-None-Match": {res.Header.Get("ETag")}}); res.StatusCode != 304 {
		t.Errorf("conditional snapshot: %d, want 304", res.StatusCode)
	}
	if res, plain := getFeed(t, feedURL, nil); res.Header.Get("Content-Encoding") != "" || len(plain.Entries) != len(jtis) {
		t.Errorf("snapshot without gzip: %v, %d entries", res.Header, len(plain.Entries))
	}
	tok := ts.token(id, secret, nil)
	ts.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret)
	// The delta holds the new revocation; it may repeat entries the
	// snapshot held (they were revoked here and not yet synced when it was
	// built), which a consumer adds again harmlessly.
	res, delta := getFeed(t, feedURL+"?since="+snap.Cursor, nil)
	want := wire.RevocationEntry{Kind: wire.RevokeJTI, Value: decodeClaims(t, tok)["jti"].(string), Exp: int64(decodeClaims(t, tok)["exp"].(float64))}
	if res.StatusCode != 200 || delta.Type != wire.FeedDelta || !slices.Contains(delta.Entries, want) {
		t.Fatalf("delta: %d %+v", res.StatusCode, delta)
	}
	for _, e := range delta.Entries {
		if e != want && !slices.Contains(jtis, e.Value) {
			t.Errorf("delta holds %+v, neither new nor in the snapshot", e)
		}
	}
	// Nothing new after the delta: following the cursor reaches an empty
	// delta once the revocation made here is synced to its place in the
	// feed (until then it may be repeated, as above).
	cursor := delta.Cursor
	var empty wire.RevocationFeed
	waitUntil(t, 15*time.Second, "an empty delta after the last cursor", func() bool {
		res, empty = getFeed(t, feedURL+"?since="+cursor, nil)
		for _, e := range empty.Entries {
			if e != want && !slices.Contains(jtis, e.Value) {
				t.Fatalf("delta after the cursor holds %+v, neither new nor in the snapshot", e)
			}
		}
		if empty.Cursor != "" {
			cursor = empty.Cursor
		}
		return len(empty.Entries) == 0
	})
	if empty.Cursor != cursor {
		t.Fatalf("empty delta: %+v, want cursor %s", empty, cursor)
	}
	if res, _ := getFeed(t, feedURL+"?since="+cursor, http.Header{"If-None-Match": {res.Header.Get("ETag")}}); res.StatusCode != 304 {
		t.Errorf("conditional empty delta: %d, want 304", res.StatusCode)
	}
	for _, q := range []string{"since=-1", "since=abc", "snapshot=5", "snapshot=1&after=9"} {
		if res, _ := getFeed(t, feedURL+"?"+q, nil); res.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", q, res.StatusCode)
		}
	}

	authed := newTestServer(t, func(c *server.Config) { c.RevocationFeedAuth = true })
	aid, asecret := authed.createClient(map[string]any{"name": "Feed reader", "scope_ids": []string{"trade:read"}})
	if res, _ := getFeed(t, authed.URL+"/oauth2/revocations", nil); res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("feed without credentials: %d %v", res.StatusCode, res.Header)
	}
	basic := http.Header{"Authorization": {"Basic " + basicAuth(aid, asecret)}}
	if res, f := getFeed(t, authed.URL+"/oauth2/revocations", basic); res.StatusCode != 200 || f.Type != wire.FeedSnapshot ||
		!strings.Contains(res.Header.Get("Cache-Control"), "private") {
		t.Errorf("feed with credentials: %d %v", res.StatusCode, res.Header)
	}
	bad := http.Header{"Authorization": {"Basic " + basicAuth(aid, "wrong")}}
	if res, _ := getFeed(t, authed.URL+"/oauth2/revocations", bad); res.StatusCode != 401 {
		t.Errorf("feed with a wrong secret: %d", res.StatusCode)
	}
}

// TestGuardSyncsMillionRevocations: the SDK's guard follows the feed of a
// server holding 1,000,000 revocations (seeded with one INSERT), and then
// refuses a token revoked through the server.
func TestGuardSyncsMillionRevocations(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,000,000 revocations")
	}
	const n = 1_000_000
	dsn := sqltest.PostgresURL(t)
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, sqlstore.Config{URL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	seeded := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO revocations (tenant_id, jti, expires_at, created_at)
		SELECT 'default', 'seed' || lpad(g::text, 18, '0'), now() + interval '1 hour', now() FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Logf("seeded in %v", time.Since(seeded).Round(time.Millisecond))
	seeded = time.Now()
	cfg := replicaConfig(t, filepath.Join(t.TempDir(), "data"))
	cfg.DatabaseURL = dsn
	ts := startReplica(t, cfg).ts()
	t.Logf("server started in %v", time.Since(seeded).Round(time.Millisecond))
	id, secret := ts.createClient(map[string]any{"name": "Guarded", "scope_ids": []string{"trade:read"}, "audiences": []string{"https://api.example"}})

	g, err := guard.New(ctx, guard.Config{Issuer: ts.URL, Audience: "https://api.example", RevocationPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	start := time.Now()
	waitUntil(t, 60*time.Second, "the guard syncs 1,000,000 revocations", g.Ready)
	t.Logf("guard synced %d revocations in %v", g.Status().Revocations.Entries, time.Since(start).Round(time.Millisecond))
	if st := g.Status().Revocations; st.Entries != n || st.Error != "" {
		t.Fatalf("guard status %+v", st)
	}
	tok := ts.token(id, secret, nil)
	if _, err := g.Verify(ctx, tok); err != nil {
		t.Fatalf("a live token refused: %v", err)
	}
	if r := ts.form("/oauth2/revoke", url.Values{"token": {tok}}, id, secret); r.Status != 200 {
		t.Fatalf("revoke: %d", r.Status)
	}
	waitUntil(t, 15*time.Second, "the guard refuses the revoked token", func() bool {
		// A fresh guard would re-verify; this one has the token cached
		// and must still refuse it once the delta arrives.
		_, err := g.Verify(ctx, tok)
		return err != nil
	})
	if st := g.Status().Revocations; st.Entries != n+1 {
		t.Fatalf("after the delta the guard holds %d entries, want %d", st.Entries, n+1)
	}
}

func basicAuth(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}
