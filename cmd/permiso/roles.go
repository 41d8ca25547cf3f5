package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/permiso-auth/permiso/internal/apitype"
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

func rolesList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return listing[apitype.Role]{things: "roles", path: rolesPath, key: "roles",
		searchHelp: "only roles whose name or description contains this",
		header:     []string{"NAME", "USERS", "SCOPES", "DESCRIPTION"},
		row: func(r apitype.Role) []string {
			return []string{r.Name, strconv.Itoa(r.UserCount), scopeList(r.Scopes), orDash(r.Description)}
		}}.run(ctx, args, stdout, stderr)
}

// roleCall sends a role request and prints the role it returns.
func roleCall(ctx context.Context, conn *connFlags, method, path string, body any, verb string, stdout, stderr io.Writer) error {
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, method, path, body, func(r apitype.Role) error {
		fmt.Fprintf(stdout, "%s role %s: %s\n", verb, r.Name, scopeList(r.Scopes))
		return nil
	})
}

func rolesCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles create", "NAME --scopes a,b [options]", "Creates a role holding the given scopes.", stderr)
	conn := addConnFlags(fs)
	scopes := fs.String("scopes", "", "scope names, separated by commas or spaces")
	description := fs.String("description", "", "what the role is for")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	ids := splitList(*scopes)
	body := apitype.RoleFields{Name: &pos[0], Description: description, ScopeIDs: &ids}
	return roleCall(ctx, conn, "POST", rolesPath, body, "created", stdout, stderr)
}

func rolesSetScopes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles set-scopes", "NAME --scopes a,b [options]",
		"Replaces the role's scopes with the given ones (--scopes \"\" removes them all).", stderr)
	conn := addConnFlags(fs)
	scopes := fs.String("scopes", "", "scope names, separated by commas or spaces")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if !isSet(fs, "scopes") {
		fs.Usage()
		return errors.New("--scopes is required")
	}
	ids := splitList(*scopes)
	body := apitype.RoleFields{ScopeIDs: &ids}
	return roleCall(ctx, conn, "PUT", rolesPath+"/"+url.PathEscape(pos[0])+"/scopes", body, "updated", stdout, stderr)
}

func rolesDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso roles delete", "NAME [options]", "Deletes a role (by name or id). A role users hold cannot be deleted.", stderr)
	return deleteNamed(ctx, fs, args, rolesPath, "role", stdout, stderr)
}
