package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"-v"}} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d, %s", args, code, errb.String())
		}
		if !strings.HasPrefix(out.String(), "permiso ") || !strings.Contains(out.String(), runtime.Version()) {
			t.Errorf("%v printed %q", args, out.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"version", "--json"}, nil, &out, &bytes.Buffer{}); code != 0 {
		t.Fatal("version --json failed")
	}
	var b buildInfo
	if err := json.Unmarshal(out.Bytes(), &b); err != nil || b.Version == "" || b.GoVersion != runtime.Version() || b.Platform == "" {
		t.Errorf("version --json: %v %s", err, out.String())
	}
}

func TestBuildInfo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/permiso-auth/permiso", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"}}}
	got := fromBuildInfo(info, true)
	want := "permiso v1.4.0 (commit 0123456789ab, modified, 2026-01-02T03:04:05Z) " + runtime.Version()
	if !strings.HasPrefix(got.String(), want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
	local := fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true)
	if local.Version != "(devel)" || local.Commit != "" || strings.Contains(local.String(), "commit") {
		t.Errorf("local build: %+v", local)
	}
	if fromBuildInfo(nil, false).Version == "" {
		t.Error("no build info: empty version")
	}
}
