package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

func runRoles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "roles", []subcommand{
		{"list", "list roles", rolesList},
		{"create", "create a role", rolesCreate},
		{"delete", "delete a role no user holds", rolesDelete},
		{"set-scopes", "replace a role's scopes", rolesSetScopes},
	}, args, stdout, stderr)
}

const rolesPath = "/api/v1/roles"

type cliRole struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Scopes      []cliScope `json:"scopes"`
	UserCount   int        `json:"user_count"`
}

func rolesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles list", "[options]", "Lists roles with their scopes.", stderr)
	conn := addConnFlags(fs)
	search := fs.String("search", "", "only roles whose name or description contains this")
	page := fs.Int("page", 1, "page number")
	perPage := fs.Int("per-page", 100, "roles per page (1-100)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	q := url.Values{"page": {strconv.Itoa(*page)}, "per_page": {strconv.Itoa(*perPage)}}
	if *search != "" {
		q.Set("search", *search)
	}
	var out struct {
		Roles              []cliRole `json:"roles"`
		Total, Page, Pages int
	}
	raw, err := api.callInto(ctx, "GET", rolesPath+"?"+q.Encode(), nil, &out)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	rows := make([][]string, len(out.Roles))
	for i, r := range out.Roles {
		rows[i] = []string{r.Name, strconv.Itoa(r.UserCount), scopeList(r.Scopes), orDash(r.Description)}
	}
	if err := writeTable(stdout, []string{"NAME", "USERS", "SCOPES", "DESCRIPTION"}, rows); err != nil {
		return err
	}
	pageNote(stderr, out.Page, out.Pages, out.Total, "roles")
	return nil
}

// roleCall sends a role request and prints the role it returns.
func roleCall(ctx context.Context, conn *connFlags, method, path string, body any, verb string, stdout, stderr io.Writer) error {
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	var r cliRole
	raw, err := api.callInto(ctx, method, path, body, &r)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	fmt.Fprintf(stdout, "%s role %s: %s\n", verb, r.Name, scopeList(r.Scopes))
	return nil
}

func rolesCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles create", "NAME --scopes a,b [options]", "Creates a role holding the given scopes.", stderr)
	conn := addConnFlags(fs)
	scopes := fs.String("scopes", "", "comma-separated scope names")
	description := fs.String("description", "", "what the role is for")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	body := map[string]any{"name": pos[0], "description": *description, "scope_ids": splitList(*scopes)}
	return roleCall(ctx, conn, "POST", rolesPath, body, "created", stdout, stderr)
}

func rolesSetScopes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles set-scopes", "NAME --scopes a,b [options]",
		"Replaces the role's scopes with the given ones (--scopes \"\" removes them all).", stderr)
	conn := addConnFlags(fs)
	scopes := fs.String("scopes", "", "comma-separated scope names")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if !isSet(fs, "scopes") {
		fs.Usage()
		return errors.New("--scopes is required")
	}
	body := map[string]any{"scope_ids": splitList(*scopes)}
	return roleCall(ctx, conn, "PUT", rolesPath+"/"+url.PathEscape(pos[0])+"/scopes", body, "updated", stdout, stderr)
}

func rolesDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles delete", "NAME [options]", "Deletes a role (by name or id). A role users hold cannot be deleted.", stderr)
	conn := addConnFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	if _, err := api.call(ctx, "DELETE", rolesPath+"/"+url.PathEscape(pos[0]), nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted role %s\n", pos[0])
	return nil
}
