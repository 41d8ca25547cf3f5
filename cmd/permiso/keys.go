package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "keys", []subcommand{
		{"list", "list signing keys and their schedule", keysList},
		{"rotate", "publish a new signing key that starts signing after a delay", keysRotate},
	}, args, stdout, stderr)
}

type cliKey struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiresAt   *time.Time `json:"retires_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso keys list", "[options]", "Lists the signing keys (requires admin:system).", stderr)
	conn := addConnFlags(fs)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	var out struct {
		Keys []cliKey `json:"keys"`
	}
	raw, err := api.callInto(ctx, "GET", "/api/v1/admin/keys", nil, &out)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	rows := make([][]string, len(out.Keys))
	for i, k := range out.Keys {
		rows[i] = []string{k.KID, k.Alg, k.State, fmtTime(&k.CreatedAt), fmtTime(&k.ActivatesAt), fmtTime(k.RetiresAt), fmtTime(k.ExpiresAt)}
	}
	return writeTable(stdout, []string{"KID", "ALG", "STATE", "CREATED", "SIGNS_FROM", "RETIRED", "UNPUBLISHED_AT"}, rows)
}

func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso keys rotate", "[options]",
		"Publishes a new signing key in the JWKS at once; it starts signing after --delay, so resource servers\n"+
			"fetch it first. The old key stays published until its last token expires.", stderr)
	conn := addConnFlags(fs)
	delay := fs.Duration("delay", 10*time.Minute, "how long the new key is published before it signs (0 signs now; at most 168h)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *delay < 0 || *delay%time.Second != 0 {
		return errors.New("--delay must be a non-negative whole number of seconds, such as 10m")
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	var k cliKey
	raw, err := api.callInto(ctx, "POST", "/api/v1/admin/keys/rotate", map[string]any{"delay_seconds": int64(*delay / time.Second)}, &k)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "new key %s (%s) is published and signs from %s\n", k.KID, k.Alg, fmtTime(&k.ActivatesAt))
	return nil
}
