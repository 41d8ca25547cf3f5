package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestComplete(t *testing.T) {
	tests := []struct {
		name    string
		before  []string
		cur     string
		want    []string // all present
		exactly bool     // and nothing else
	}{
		{name: "commands", cur: "", want: []string{"serve", "users", "clients", "token", "completion", "version", "--version"}},
		{name: "command prefix", cur: "us", want: []string{"users"}, exactly: true},
		{name: "subcommands", before: []string{"users"}, cur: "", want: []string{"create", "list", "show", "set-roles", "disable",
			"enable", "unlock", "reset-password", "delete"}, exactly: true},
		{name: "subcommand prefix", before: []string{"clients"}, cur: "ro", want: []string{"rotate-secret", "rotate-webhook-secret"}, exactly: true},
		{name: "flags of a subcommand", before: []string{"users", "create"}, cur: "--pa", want: []string{"--password-stdin"}, exactly: true},
		{name: "flags after other flags", before: []string{"clients", "create", "--name", "x", "--trusted"}, cur: "--aud",
			want: []string{"--audiences"}, exactly: true},
		{name: "a flag's value", before: []string{"clients", "create", "--credentials-file"}, cur: "", exactly: true},
		{name: "flags of serve", before: []string{"serve"}, cur: "--data", want: []string{"--data-dir", "--database-url"}, exactly: true},
		{name: "token words", before: []string{"token"}, cur: "", want: []string{"inspect", "revoke"}},
		{name: "token flags", before: []string{"token"}, cur: "--sc", want: []string{"--scope"}, exactly: true},
		{name: "token inspect flags", before: []string{"token", "inspect"}, cur: "--j", want: []string{"--json"}, exactly: true},
		{name: "shells", before: []string{"completion"}, cur: "", want: []string{"bash", "zsh", "fish"}, exactly: true},
		{name: "keys export", before: []string{"keys", "export"}, cur: "--", want: []string{"--pem", "--kid", "--all"}},
		{name: "unknown command", before: []string{"frobnicate"}, cur: "", exactly: true},
		{name: "after the positional argument", before: []string{"users", "show"}, cur: "", exactly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := complete(context.Background(), tt.before, tt.cur, nil)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q in %v", w, got)
				}
			}
			if tt.exactly && len(got) != len(tt.want) {
				t.Errorf("got %v, want exactly %v", got, tt.want)
			}
		})
	}
}

// requireShell returns the shell's path; in CI a missing shell fails.
func requireShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (scripts/install-deps.sh installs it)", name)
		}
		t.Skipf("%s not installed; scripts/install-deps.sh installs it", name)
	}
	return p
}

// TestCompletionScripts loads each script into its real shell and asks it
// to complete, as a person pressing Tab would.
func TestCompletionScripts(t *testing.T) {
	bin := permisoBinary(t)
	dir := t.TempDir()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		os.WriteFile(filepath.Join(dir, sh), []byte(completionScripts[sh]), 0o644)
	}
	tests := []struct {
		shell, line string
		want        []string
	}{
		{"bash", "permiso us", []string{"users"}},
		{"bash", "permiso users re", []string{"reset-password"}},
		{"bash", "permiso token inspect --j", []string{"--json"}},
		{"zsh", "permiso cl", []string{"clients"}},
		{"zsh", "permiso users create --pass", []string{"--password-stdin"}},
		{"fish", "permiso ver", []string{"version"}},
		{"fish", "permiso completion ", []string{"bash", "fish", "zsh"}},
	}
	for _, tt := range tests {
		t.Run(tt.shell+" "+tt.line, func(t *testing.T) {
			sh := requireShell(t, tt.shell)
			script := filepath.Join(dir, tt.shell)
			var cmd *exec.Cmd
			words := strings.Fields(tt.line)
			if strings.HasSuffix(tt.line, " ") {
				words = append(words, "")
			}
			switch tt.shell {
			case "bash":
				cmd = exec.Command(sh, append([]string{"--norc", "-c",
					`source "$0"; COMP_WORDS=("${@}"); COMP_CWORD=$(( $# - 1 )); _permiso; printf '%s\n' "${COMPREPLY[@]}"`, script}, words...)...)
			case "zsh":
				// compadd and compdef are stood in for: the script's own logic runs.
				cmd = exec.Command(sh, append([]string{"-f", "-c", `compdef() { :; }; compadd() { shift; print -l -- "$@"; }; _files() { :; };
source "$0"; words=("${@}"); CURRENT=$#; _permiso`, script}, words...)...)
			case "fish":
				cmd = exec.Command(sh, "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, script, tt.line)
			}
			cmd.Env = withPath(bin)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				got = append(got, strings.Fields(l + " ")[0]) // fish adds a tab and a description
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s completes %q to %v, want %v", tt.shell, tt.line, got, tt.want)
			}
		})
	}
	t.Run("unknown shell", func(t *testing.T) {
		runCLI(t, runCompletion, "tcsh").fails(t, `unknown shell "tcsh"`)
	})
}
