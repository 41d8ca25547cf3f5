package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

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
