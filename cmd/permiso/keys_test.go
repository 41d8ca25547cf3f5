package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestKeysCommands(t *testing.T) {
	newCLIServer(t)
	list := runCLI(t, runKeys, "list").ok(t, "KID", "ES256", "active")
	if n := strings.Count(list.Stdout, "\n"); n != 2 {
		t.Fatalf("want a header and one key:\n%s", list.Stdout)
	}
	runCLI(t, runKeys, "rotate", "--delay", "10m").ok(t, "is published and signs from")
	r := runCLI(t, runKeys, "list", "--json").ok(t)
	var out struct {
		Keys []struct{ State string } `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, k := range out.Keys {
		states = append(states, k.State)
	}
	if strings.Join(states, ",") != "active,next" {
		t.Errorf("states %v, want active,next", states)
	}
	runCLI(t, runKeys, "rotate", "--delay", "-1s").fails(t, "--delay must be")
}
