package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func runScopes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "scopes", []subcommand{
		{"list", "list scopes", scopesList},
		{"create", "create a scope", scopesCreate},
		{"delete", "delete a scope no role or client holds", scopesDelete},
	}, args, stdout, stderr)
}

const scopesPath = "/api/v1/roles/scopes"

func scopesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return listing[apitype.Scope]{things: "scopes", path: scopesPath, key: "scopes",
		searchHelp: "only scopes whose name or description contains this",
		header:     []string{"NAME", "RESOURCE", "ROLES", "DESCRIPTION"},
		row: func(s apitype.Scope) []string {
			return []string{s.Name, orDash(s.Resource), strconv.Itoa(s.RoleCount), orDash(s.Description)}
		}}.run(ctx, args, stdout, stderr)
}

func scopesCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso scopes create", "NAME [options]",
		"Creates a scope. NAME is letters, digits and _ . : - such as reports:read.", stderr)
	conn := addConnFlags(fs)
	description := fs.String("description", "", "what the scope allows")
	resource := fs.String("resource", "", "resource (default: the text after the first ':')")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	body := apitype.ScopeFields{Name: &pos[0], Description: description}
	if isSet(fs, "resource") {
		body.Resource = resource
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, "POST", scopesPath, body, func(s apitype.Scope) error {
		fmt.Fprintf(stdout, "created scope %s (id %s)\n", s.Name, s.ID)
		return nil
	})
}

func scopesDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso scopes delete", "NAME [options]",
		"Deletes a scope (by name or id). A scope a role or client holds cannot be deleted.", stderr)
	return deleteNamed(ctx, fs, args, scopesPath, "scope", stdout, stderr)
}
