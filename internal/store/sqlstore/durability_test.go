package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
)

// TestSQLiteDurable: every connection of the pool commits with
// synchronous=FULL in WAL mode, so an acknowledged write survives a power
// loss.
func TestSQLiteDurable(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Config{URL: filepath.Join(t.TempDir(), "d.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conns := make([]interface{ Close() error }, 0, 4)
	for range 4 { // several connections, not just the first
		c, err := db.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var sync int
		var mode string
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if sync != 2 || mode != "wal" {
			t.Fatalf("synchronous=%d journal_mode=%s, want 2 (FULL) and wal", sync, mode)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// BenchmarkSQLiteAdminWrite measures an admin write (a client update, one
// transaction) with SQLite's synchronous setting at FULL (the default) and
// NORMAL, for the cost docs/operations.md states.
func BenchmarkSQLiteAdminWrite(b *testing.B) {
	for _, mode := range []string{"FULL", "NORMAL"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "w.db")
			url := "file:" + path
			if mode != "FULL" {
				url += "?_pragma=synchronous(" + mode + ")"
			}
			db, err := Open(ctx, Config{URL: url})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			st := db.Tenant(store.DefaultTenant)
			if _, err := st.CreateClient(ctx, store.Client{ClientID: "svc", Type: "confidential"}); err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				if _, err := st.UpdateClient(ctx, "svc", func(c store.Client) (store.Client, error) {
					c.Name = fmt.Sprint("v", i)
					return c, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
