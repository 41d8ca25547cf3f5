package audit_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

func TestSinkWritesBatchesAndLogs(t *testing.T) {
	db := sqltest.SQLite(t)
	var logs bytes.Buffer
	sink := audit.NewSink(audit.Config{Store: db, Logger: slog.New(slog.NewJSONHandler(&logs, nil)), BatchSize: 3, Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sink.Run(ctx); close(done) }()
	for i := range 7 {
		sink.Record(ctx, store.AuditEvent{Type: "client.created", Outcome: audit.Success, ActorID: "admin", Target: string(rune('a' + i))})
	}
	sink.Flush(ctx)
	events, total, err := db.ListAuditEvents(ctx, store.AuditFilter{Type: "client.created"})
	if err != nil || total != 7 || len(events) != 7 {
		t.Fatalf("stored %d (%d) events: %v", total, len(events), err)
	}
	if events[0].ID == "" || events[0].Time.IsZero() {
		t.Fatalf("id and time not filled: %+v", events[0])
	}
	if n := strings.Count(logs.String(), `"msg":"audit"`); n != 7 {
		t.Fatalf("%d audit log lines, want 7", n)
	}
	// Events recorded before shutdown are written by the final drain.
	sink.Record(ctx, store.AuditEvent{Type: "client.deleted", Outcome: audit.Success})
	cancel()
	<-done
	if _, total, _ := db.ListAuditEvents(context.Background(), store.AuditFilter{Type: "client.deleted"}); total != 1 {
		t.Fatalf("event lost at shutdown: %d", total)
	}
}

func TestSinkDropsWhenFullInsteadOfBlocking(t *testing.T) {
	sink := audit.NewSink(audit.Config{Store: sqltest.SQLite(t), QueueSize: 2})
	start := time.Now()
	for range 5 {
		sink.Record(context.Background(), store.AuditEvent{Type: "x"}) // nobody runs the sink
	}
	if time.Since(start) > time.Second || sink.Dropped() != 3 {
		t.Fatalf("dropped %d, took %v", sink.Dropped(), time.Since(start))
	}
}
