package main

import (
	"context"
	"strings"
	"testing"
)

// TestHelpTexts reads the help of every command and subcommand and holds
// them to the same words: lists are "separated by commas or spaces", counts
// are never "(s)", and only admin commands talk of admin credentials.
func TestHelpTexts(t *testing.T) {
	t.Setenv("PERMISO_CLIENT_SECRET", "pms_must_not_be_printed")
	ctx := context.Background()
	type page struct{ name, text string }
	var pages []page
	for _, c := range commands(nil) {
		text := helpText(ctx, c.run, nil)
		pages = append(pages, page{c.name, text})
		for _, sub := range append(section(text, "Subcommands:"), extraWords[c.name]...) {
			if c.name == "completion" {
				continue
			}
			pages = append(pages, page{c.name + " " + sub, helpText(ctx, c.run, []string{sub})})
		}
	}
	if len(pages) < 35 {
		t.Fatalf("only %d help pages found", len(pages))
	}
	for _, p := range pages {
		if !strings.Contains(p.text, "Usage: permiso "+p.name) {
			t.Errorf("%s: help does not start with its usage:\n%s", p.name, p.text)
		}
		for _, bad := range []string{"comma-separated", "(s)", "pms_must_not_be_printed"} {
			if strings.Contains(p.text, bad) {
				t.Errorf("%s: help contains %q", p.name, bad)
			}
		}
		admin := strings.Contains(p.text, "admin client's client_id")
		switch {
		case strings.HasPrefix(p.name, "token") && admin:
			t.Errorf("%s: speaks of an admin client", p.name)
		case strings.HasPrefix(p.name, "token") && !strings.Contains(p.text, "client_id"):
			t.Errorf("%s: no --client-id help", p.name)
		}
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 users", 1: "1 user", 2: "2 users"} {
		if got := plural(n, "user", "users"); got != want {
			t.Errorf("plural(%d) = %q", n, got)
		}
	}
}
