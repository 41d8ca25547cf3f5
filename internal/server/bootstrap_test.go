package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
)

// TestLaterStartsLogTheCredentialsFile: the first start prints the
// bootstrap credentials once; every later start says where the file is
// (never the secret), or that it is gone.
func TestLaterStartsLogTheCredentialsFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	start := func() (out, logs string) {
		t.Helper()
		var o, l bytes.Buffer
		srv, err := server.New(context.Background(), server.Config{DataDir: dir, Issuer: "http://127.0.0.1:1", Environment: "test",
			Out: &o, Logger: slog.New(slog.NewTextHandler(&l, nil))})
		if err != nil {
			t.Fatal(err)
		}
		srv.Close()
		return o.String(), l.String()
	}
	out, logs := start()
	file := filepath.Join(dir, server.BootstrapFile)
	if !strings.Contains(out, "client_secret: pms_") || !strings.Contains(out, file) {
		t.Fatalf("first start printed %q", out)
	}
	if strings.Contains(logs, "pms_") {
		t.Fatal("the secret reached the log")
	}
	out, logs = start()
	if out != "" {
		t.Errorf("second start printed %q", out)
	}
	if !strings.Contains(logs, "bootstrap admin credentials are in the data directory") || !strings.Contains(logs, "path="+file) || strings.Contains(logs, "pms_") {
		t.Errorf("second start logged %q", logs)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	_, logs = start()
	if !strings.Contains(logs, "its credentials file is not in this data directory") {
		t.Errorf("start without the file logged %q", logs)
	}
}
