package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// TestSQLiteFilesArePrivate: the database and its -wal and -shm files hold
// password hashes and sealed keys; nobody but the owner may read them.
func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, url := range []string{filepath.Join(dir, "a.db"), "file:" + filepath.Join(dir, "b.db") + "?cache=private"} {
		db := sqltest.Open(t, url)
		if _, err := db.ForTenant(store.DefaultTenant).CreateScope(context.Background(), store.Scope{Name: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a.db", "a.db-wal", "a.db-shm", "b.db", "b.db-wal", "b.db-shm"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want no group or other access", name, mode)
		}
	}
}
