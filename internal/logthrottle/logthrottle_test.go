package logthrottle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/logthrottle"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func lines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	b.Reset()
	return out
}

func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	clk := &clock{time.Unix(1_800_000_000, 0)}
	h := logthrottle.New(slog.NewJSONHandler(&buf, nil), logthrottle.Config{Interval: 10 * time.Second, Now: clk.now})
	log := slog.New(h).With("component", "oauth")
	for range 1000 {
		log.Error("load client", "err", "connection refused")
		log.Info("served") // below the level: never throttled
	}
	log.Warn("another kind")
	got := lines(t, &buf)
	errors, infos, warns := 0, 0, 0
	for _, l := range got {
		switch l["msg"] {
		case "load client":
			errors++
		case "served":
			infos++
		case "another kind":
			warns++
		}
	}
	if errors != 1 || infos != 1000 || warns != 1 {
		t.Fatalf("%d error lines, %d info, %d warn; want 1, 1000, 1", errors, infos, warns)
	}
	// After the interval the next one is written with the count.
	clk.t = clk.t.Add(10 * time.Second)
	log.Error("load client", "err", "connection refused")
	got = lines(t, &buf)
	if len(got) != 1 || got[0]["repeated"] != float64(999) || got[0]["component"] != "oauth" {
		t.Fatalf("after the interval: %v", got)
	}
	// A flood that stops is reported by Flush once its interval passes.
	for range 5 {
		log.Error("load client", "err", "x")
	}
	h.Flush(context.Background())
	if got := lines(t, &buf); len(got) != 0 {
		t.Fatalf("flushed before the interval: %v", got)
	}
	clk.t = clk.t.Add(11 * time.Second)
	h.Flush(context.Background())
	if got := lines(t, &buf); len(got) != 1 || got[0]["repeated"] != float64(5) {
		t.Fatalf("flush: %v", got)
	}
	h.Flush(context.Background())
	if got := lines(t, &buf); len(got) != 0 {
		t.Fatalf("second flush wrote %v", got)
	}
}
