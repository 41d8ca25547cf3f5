package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version may be set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it comes from the module version in the build information
// (set by `go install module@version`).
var version = ""

// buildInfo is what `permiso version` reports.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	CommitAt  string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// readBuildInfo reads the module version and the VCS stamp that the Go
// toolchain embeds (go build in a git checkout records the commit).
func readBuildInfo() buildInfo {
	info, ok := debug.ReadBuildInfo()
	return fromBuildInfo(info, ok)
}

func fromBuildInfo(info *debug.BuildInfo, ok bool) buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok {
		if b.Version == "" {
			b.Version = "(unknown)"
		}
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version // "(devel)" for a local build
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitAt = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// String is the one line `permiso version` prints.
func (b buildInfo) String() string {
	s := "permiso " + b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if b.Modified {
			s += ", modified"
		}
		if b.CommitAt != "" {
			s += ", " + b.CommitAt
		}
		s += ")"
	}
	return s + " " + b.GoVersion + " " + b.Platform
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso version", "[--json]", "Prints the version, the commit it was built from and the Go version.", stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	b := readBuildInfo()
	if *asJSON {
		raw, err := json.Marshal(b)
		if err != nil {
			return err
		}
		return writeJSON(stdout, raw)
	}
	_, err := fmt.Fprintln(stdout, b)
	return err
}
