package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// TestUsageFlushManyClients: a flush after tokens for 20,000 different
// clients (100,000 clients in random order do this) writes one audit
// event per client, more than the audit queue holds, and drops none.
func TestUsageFlushManyClients(t *testing.T) {
	ctx := context.Background()
	db := sqltest.SQLite(t)
	var logs bytes.Buffer
	sink := audit.NewSink(audit.Config{Store: db, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}) // the default queue: 8,192
	u := oauth.NewUsage(db, sink, nil, nil)
	const clients = 20_000
	for i := range clients {
		u.Add(fmt.Sprintf("client-%05d", i), "client_credentials")
	}
	u.Add("client-00000", "client_credentials")
	u.Flush(ctx)
	if n := sink.Dropped(); n != 0 {
		t.Fatalf("%d audit events dropped", n)
	}
	_, total, err := db.ListAuditEvents(ctx, store.AuditFilter{Type: "token.issued"})
	if err != nil || total != clients {
		t.Fatalf("%d token.issued events written (%v), want %d", total, err, clients)
	}
	events, _, err := db.ListAuditEvents(ctx, store.AuditFilter{Type: "token.issued", ActorID: "client-00000"})
	if err != nil || len(events) != 1 || fmt.Sprint(events[0].Details["count"]) != "2" {
		t.Fatalf("client-00000's event: %+v %v", events, err)
	}
	if n := strings.Count(logs.String(), `"msg":"audit"`); n != clients {
		t.Fatalf("%d audit log lines, want %d", n, clients)
	}
}

// TestUsageFlushDue: a flush is due after the interval while it writes
// at most 200 rows per second of the time it covers; with more clients it
// waits, up to 12 intervals, so tokens for many clients cost fewer rows.
func TestUsageFlushDue(t *testing.T) {
	const interval = 5 * time.Second
	tests := []struct {
		name    string
		clients int
		after   time.Duration
		due     bool
	}{
		{"few clients after one interval", 10, interval, true},
		{"1,000 clients after one interval (200 rows/s)", 1_000, interval, true},
		{"1,001 clients after one interval", 1_001, interval, false},
		{"20,000 clients after 11 intervals", 20_000, 11 * interval, false},
		{"20,000 clients after 12 intervals", 20_000, 12 * interval, true},
		{"10,000 clients after 50s", 10_000, 50 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			u := oauth.NewUsage(sqltest.SQLite(t), nil, nil, func() time.Time { return now })
			for i := range tc.clients {
				u.Add(fmt.Sprintf("client-%05d", i), "client_credentials")
			}
			now = now.Add(tc.after)
			if got := u.FlushDue(interval); got != tc.due {
				t.Fatalf("FlushDue = %v, want %v", got, tc.due)
			}
			// A flush starts the next period.
			u.Flush(context.Background())
			for i := range 1_001 {
				u.Add(fmt.Sprintf("other-%05d", i), "client_credentials")
			}
			now = now.Add(interval)
			if u.FlushDue(interval) {
				t.Fatal("1,001 clients gathered in the interval after a flush are due")
			}
		})
	}
}
