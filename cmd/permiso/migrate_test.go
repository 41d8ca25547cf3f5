package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `permiso migrate` prepares a database without serving, and is safe to
// run again.
func TestMigrateCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for i := range 2 {
		var out, errb strings.Builder
		if code := run(context.Background(), []string{"migrate", "--data-dir", dir, "--log-level", "error"}, nil, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errb.String())
		}
		if !strings.Contains(out.String(), "migrations applied") {
			t.Fatalf("run %d printed %q", i, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "permiso.db")); err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	if code := run(context.Background(), []string{"migrate", "--database-url", "mysql://nope"}, nil, &strings.Builder{}, &errb); code != 1 ||
		!strings.Contains(errb.String(), "database-url") {
		t.Fatalf("bad database URL: exit %d: %s", code, errb.String())
	}
}
