package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "keys", []subcommand{
		{"list", "list signing keys and their schedule", keysList},
		{"rotate", "publish a new signing key that starts signing after a delay", keysRotate},
		{"export", "print a public signing key (--pem for services configured with a static key)", keysExport},
	}, args, stdout, stderr)
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso keys list", "[options]", "Lists the signing keys (requires admin:system).", stderr)
	conn := addConnFlags(fs)
	api, _, err := conn.open(ctx, fs, args, 0, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, "GET", "/api/v1/admin/keys", nil, func(out apitype.KeyList) error {
		rows := make([][]string, len(out.Keys))
		for i, k := range out.Keys {
			rows[i] = []string{k.KID, k.Alg, k.State, fmtTime(&k.CreatedAt), fmtTime(&k.ActivatesAt), fmtTime(k.RetiresAt), fmtTime(k.ExpiresAt)}
		}
		return writeTable(stdout, []string{"KID", "ALG", "STATE", "CREATED", "SIGNS_FROM", "RETIRED", "UNPUBLISHED_AT"}, rows)
	})
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
	delaySeconds := int64(*delay / time.Second)
	body := apitype.KeyRotation{DelaySeconds: &delaySeconds}
	return callPrint(ctx, conn, api, stdout, "POST", "/api/v1/admin/keys/rotate", body, func(k apitype.Key) error {
		fmt.Fprintf(stdout, "new key %s (%s) is published and signs from %s\n", k.KID, k.Alg, fmtTime(&k.ActivatesAt))
		return nil
	})
}

func keysExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso keys export", "--pem [--kid KID | --all] [options]",
		"Prints the public signing key for services that are configured with a static key (PEM, as the\n"+
			"original Permiso's JWT_PUBLIC_KEY). Without --kid it is the key signing now (found with the admin\n"+
			"credentials; without them, the only published key). A static key does not follow rotation: after\n"+
			"'permiso keys rotate' such services refuse the new key's tokens until they are given it. Services that\n"+
			"read the JWKS (/.well-known/jwks.json) follow rotation by themselves; prefer that.", stderr)
	conn := addConnFlags(fs)
	asPEM := fs.Bool("pem", false, "print PEM (SubjectPublicKeyInfo, \"PUBLIC KEY\"); without it, the JWK")
	kid := fs.String("kid", "", "the key id to export")
	all := fs.Bool("all", false, "every published key (next, active and retired), each preceded by a # kid line")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *kid != "" && *all {
		return errors.New("give --kid or --all, not both")
	}
	hc := newHTTPClient()
	var md struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, hc, conn.serverURL()+"/.well-known/oauth-authorization-server", &md); err != nil {
		return fmt.Errorf("read the server's metadata: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := getJSON(ctx, hc, md.JWKSURI, &set); err != nil {
		return fmt.Errorf("read the JWKS: %w", err)
	}
	chosen := set.Keys
	switch {
	case *all:
	case *kid != "":
		chosen = set.Key(*kid)
		if len(chosen) == 0 {
			return fmt.Errorf("no published key has kid %q", *kid)
		}
	default:
		active, err := activeKID(ctx, conn, stderr)
		if err != nil && len(set.Keys) != 1 {
			return fmt.Errorf("%d keys are published and the signing one is unknown (%v): give --kid, --all, or admin credentials",
				len(set.Keys), err)
		}
		if err == nil {
			chosen = set.Key(active)
		}
		if len(chosen) == 0 {
			return fmt.Errorf("the signing key %s is not in the JWKS yet; try again shortly", active)
		}
	}
	for _, k := range chosen {
		if err := writeKey(stdout, k, *asPEM, *all); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "Note: a static key does not follow rotation; the JWKS at %s does.\n", md.JWKSURI)
	return nil
}

// activeKID asks the admin API which key signs now.
func activeKID(ctx context.Context, conn *connFlags, stderr io.Writer) (string, error) {
	if _, _, err := conn.credentials(); err != nil {
		return "", err
	}
	api, err := conn.connect(ctx, io.Discard)
	if err != nil {
		return "", err
	}
	var out apitype.KeyList
	if _, err := api.callInto(ctx, "GET", "/api/v1/admin/keys", nil, &out); err != nil {
		return "", err
	}
	for _, k := range out.Keys {
		if k.State == "active" {
			return k.KID, nil
		}
	}
	return "", errors.New("no active key")
}

func writeKey(w io.Writer, k jose.JSONWebKey, asPEM, labelled bool) error {
	if !asPEM {
		b, err := json.Marshal(k)
		if err != nil {
			return err
		}
		return writeJSON(w, b)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return fmt.Errorf("key %s: %w", k.KeyID, err)
	}
	if labelled {
		fmt.Fprintf(w, "# kid %s (%s)\n", k.KeyID, k.Algorithm)
	}
	return pem.Encode(w, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
