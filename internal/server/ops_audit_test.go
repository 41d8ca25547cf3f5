package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore"
)

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

type auditPage struct {
	Events []struct {
		ID, Type, Outcome, Target, IP string
		ActorType                     string         `json:"actor_type"`
		ActorID                       string         `json:"actor_id"`
		RequestID                     string         `json:"request_id"`
		UserAgent                     string         `json:"user_agent"`
		Time                          time.Time      `json:"time"`
		Details                       map[string]any `json:"details"`
	} `json:"events"`
	Total, Page, PerPage, Pages int
}

func (ts *testServer) audit(token, query string) (int, auditPage, string) {
	ts.t.Helper()
	r := ts.jsonReq("GET", "/api/v1/admin/audit/events?"+query, token, nil)
	var p auditPage
	json.Unmarshal(r.Body, &p)
	p.PerPage = int(asFloat(r.JSON["per_page"]))
	return r.Status, p, string(r.Body)
}

func asFloat(v any) float64 { f, _ := v.(float64); return f }

// TestAuditEvents: protocol and admin events are batched into the store,
// readable through the admin API with filters and paging, and logged as
// JSON lines.
func TestAuditEvents(t *testing.T) {
	logs := &syncBuffer{}
	ts := newTestServer(t, func(c serverConfig) {
		c.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	start := time.Now().UTC().Add(-time.Second)
	id, secret := ts.createClient(map[string]any{"name": "Audited", "client_id": "audited", "scope_ids": []string{"trade:read"}})
	ts.token(id, secret, nil)
	if r := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, "pms_wrong"); r.Status != 401 {
		t.Fatalf("wrong secret: %d", r.Status)
	}
	admin := ts.adminToken()

	// Written in batches: wait for the sink's flush. Failures are audited
	// one by one, with the request's details.
	var failed auditPage
	waitUntil(t, 15*time.Second, "client.auth_failure event stored", func() bool {
		_, failed, _ = ts.audit(admin, "type=client.auth_failure&actor=audited")
		return failed.Total == 1
	})
	e := failed.Events[0]
	if e.Outcome != "failure" || e.ActorType != "client" || e.ActorID != "audited" || e.IP != "127.0.0.1" ||
		e.RequestID == "" || e.Details["reason"] != "wrong_secret" || e.Details["method"] != "client_secret_basic" ||
		e.Time.Before(start) || e.Time.After(time.Now().Add(time.Second)) {
		t.Fatalf("client.auth_failure event: %+v", e)
	}
	// Issued service tokens may be audited in aggregate by the usage
	// counter (flushed every 5s), so allow for that.
	var issued auditPage
	waitUntil(t, 15*time.Second, "token.issued event stored", func() bool {
		_, issued, _ = ts.audit(admin, "type=token.issued&actor=audited")
		return issued.Total == 1
	})
	if e := issued.Events[0]; e.Outcome != "success" || e.ActorType != "client" || e.Target != "audited" ||
		e.Details["grant"] != "client_credentials" {
		t.Fatalf("token.issued event: %+v", e)
	}

	tests := []struct {
		name, query string
		status      int
		total       int      // -1: any
		types       []string // the types, newest first (nil: not checked)
	}{
		{"prefix", "type=token.&actor=audited", 200, 1, []string{"token.issued"}},
		{"failure outcome", "outcome=failure&actor=audited", 200, 1, []string{"client.auth_failure"}},
		{"target", "target=audited&type=client.", 200, 1, []string{"client.created"}},
		{"until before the workload", "until=" + url.QueryEscape(start.Format(time.RFC3339)), 200, 0, []string{}},
		{"since now", "since=" + url.QueryEscape(time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)), 200, 0, []string{}},
		{"bad outcome", "outcome=maybe", 422, -1, nil},
		{"bad since", "since=yesterday", 422, -1, nil},
		{"until not after since", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", 422, -1, nil},
		{"bad per_page", "per_page=1000", 422, -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p, body := ts.audit(admin, tt.query)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.total >= 0 && p.Total != tt.total {
				t.Fatalf("total %d, want %d: %s", p.Total, tt.total, body)
			}
			if tt.types != nil {
				var got []string
				for _, e := range p.Events {
					got = append(got, e.Type)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.types) {
					t.Fatalf("types %v, want %v", got, tt.types)
				}
			}
		})
	}

	t.Run("paging", func(t *testing.T) {
		_, all, _ := ts.audit(admin, "per_page=100")
		_, p, body := ts.audit(admin, "per_page=1&page=2")
		if all.Total < 3 || p.Total != all.Total || p.Page != 2 || p.PerPage != 1 || p.Pages != all.Total || len(p.Events) != 1 ||
			p.Events[0].ID != all.Events[1].ID {
			t.Fatalf("page 2 of %d: %s", all.Total, body)
		}
	})
	t.Run("authorization", func(t *testing.T) {
		if status, _, _ := ts.audit("", ""); status != 401 {
			t.Fatalf("without a token: %d", status)
		}
		if status, _, _ := ts.audit(ts.token(id, secret, nil), ""); status != 403 {
			t.Fatalf("without admin:audit: %d", status)
		}
	})
	t.Run("json log lines", func(t *testing.T) {
		found := false
		for _, line := range logs.lines() {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			if rec["msg"] == "audit" && rec["event"] == "client.auth_failure" && rec["actor"] == "audited" {
				d, _ := rec["details"].(map[string]any)
				found = d["reason"] == "wrong_secret"
			}
			if strings.Contains(line, secret) {
				t.Fatal("a client secret reached the log")
			}
		}
		if !found {
			t.Fatal("no JSON audit line for the failed authentication")
		}
	})
}

// TestAuditRetentionPurge: the retention purge (DeleteAuditEventsBefore,
// run hourly by the server) drops old events only, and the API stops
// listing them.
func TestAuditRetentionPurge(t *testing.T) {
	ts := newTestServer(t, nil)
	ctx := context.Background()
	root, err := sqlstore.Open(ctx, sqlstore.Config{URL: filepath.Join(ts.DataDir, "permiso.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	db := root.Tenant(store.DefaultTenant)
	now := time.Now().UTC()
	var old []store.AuditEvent
	for i := range 3 {
		old = append(old, store.AuditEvent{Time: now.Add(-100 * 24 * time.Hour).Add(time.Duration(i) * time.Minute),
			Type: "test.old", Outcome: "success", ActorType: "system", ActorID: "retention"})
	}
	recent := store.AuditEvent{Time: now.Add(-89 * 24 * time.Hour), Type: "test.recent", Outcome: "success", ActorType: "system", ActorID: "retention"}
	if err := db.AppendAuditEvents(ctx, append(old, recent)); err != nil {
		t.Fatal(err)
	}
	admin := ts.adminToken()
	if _, p, body := ts.audit(admin, "actor=retention"); p.Total != 4 {
		t.Fatalf("before the purge: %s", body)
	}
	n, err := db.DeleteAuditEventsBefore(ctx, now.Add(-90*24*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("purge removed %d events (%v), want 3", n, err)
	}
	if _, p, body := ts.audit(admin, "actor=retention"); p.Total != 1 || p.Events[0].Type != "test.recent" {
		t.Fatalf("after the purge: %s", body)
	}
}
