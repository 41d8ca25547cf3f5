package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// runTenants is the operators' command: it needs admin:tenants in the
// default tenant (the bootstrap client has it), and manages tenants, never
// what they hold.
func runTenants(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "tenants", []subcommand{
		{"create", "create a tenant (its keys, scopes, roles and first-party clients)", tenantsCreate},
		{"list", "list tenants", tenantsList},
		{"get", "show a tenant", tenantsGet},
		{"disable", "disable a tenant: it refuses its tokens and logins", tenantsSetActive(false)},
		{"enable", "enable a disabled tenant (tokens issued before the disable stay refused)", tenantsSetActive(true)},
		{"delete", "delete a tenant and everything it holds; revokes every token it issued", tenantsDelete},
		{"add-admin", "create a tenant's first administrator and print their setup token", tenantsAddAdmin},
	}, args, stdout, stderr)
}

const tenantsPath = "/api/v1/tenants"

func printTenant(w io.Writer, t apitype.Tenant) {
	fmt.Fprintf(w, "name:         %s\ndisplay name: %s\nactive:       %t\nissuer:       %s\ncreated:      %s\n",
		t.Name, orDash(t.DisplayName), t.IsActive, t.Issuer, t.CreatedAt.Format("2006-01-02 15:04:05Z07:00"))
}

func tenantsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso tenants create", "NAME [options]",
		"Creates a tenant. NAME (1-63 of a-z 0-9 -) is its URL segment: its issuer is the server's URL + /t/NAME.", stderr)
	conn := addConnFlags(fs)
	display := fs.String("display-name", "", "the tenant's name as people read it")
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	body := apitype.TenantCreate{Name: pos[0], DisplayName: *display}
	return callPrint(ctx, conn, api, stdout, "POST", tenantsPath, body, func(t apitype.Tenant) error {
		fmt.Fprintf(stdout, "created tenant %s, issuer %s\n", t.Name, t.Issuer)
		return nil
	})
}

func tenantsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return listing[apitype.Tenant]{things: "tenants", path: tenantsPath, key: "tenants",
		searchHelp: "only tenants whose name or display name contains this",
		header:     []string{"NAME", "ACTIVE", "ISSUER", "DISPLAY NAME"},
		row: func(t apitype.Tenant) []string {
			return []string{t.Name, strconv.FormatBool(t.IsActive), t.Issuer, orDash(t.DisplayName)}
		}}.run(ctx, args, stdout, stderr)
}

func tenantsGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso tenants get", "NAME [options]", "Shows a tenant.", stderr)
	conn := addConnFlags(fs)
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	path := tenantsPath + "/" + url.PathEscape(pos[0])
	return callPrint(ctx, conn, api, stdout, "GET", path, nil, func(t apitype.Tenant) error {
		printTenant(stdout, t)
		return nil
	})
}

func tenantsSetActive(active bool) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := "disable"
	if active {
		verb = "enable"
	}
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlagSet("permiso tenants "+verb, "NAME [options]", "Sets whether a tenant is active.", stderr)
		conn := addConnFlags(fs)
		api, pos, err := conn.open(ctx, fs, args, 1, stderr)
		if err != nil {
			return err
		}
		path, body := tenantsPath+"/"+url.PathEscape(pos[0]), apitype.TenantUpdate{IsActive: &active}
		return callPrint(ctx, conn, api, stdout, "PUT", path, body, func(t apitype.Tenant) error {
			fmt.Fprintf(stdout, "%sd tenant %s\n", verb, t.Name)
			return nil
		})
	}
}

func tenantsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso tenants delete", "NAME --yes [options]",
		"Deletes a tenant: every token it issued is revoked and everything it holds is removed. It cannot be undone.", stderr)
	conn := addConnFlags(fs)
	yes := fs.Bool("yes", false, "confirm the deletion")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if !*yes {
		return fmt.Errorf("deleting tenant %s removes everything it holds; add --yes to confirm", pos[0])
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return deletePath(ctx, api, tenantsPath+"/"+url.PathEscape(pos[0]), stdout, "deleted tenant "+pos[0])
}

func tenantsAddAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso tenants add-admin", "NAME --username U --email E [options]",
		"Creates the tenant's first administrator (a superuser with the admin role and no password) and prints "+
			"the single-use setup token, valid 72 hours, with which they choose their password. Hand it to them only.", stderr)
	conn := addConnFlags(fs)
	username := fs.String("username", "", "the administrator's username")
	email := fs.String("email", "", "the administrator's email")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *username == "" || *email == "" {
		return fmt.Errorf("give --username and --email")
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	path := tenantsPath + "/" + url.PathEscape(pos[0]) + "/administrators"
	body := apitype.TenantAdminCreate{Username: *username, Email: *email}
	return callPrint(ctx, conn, api, stdout, "POST", path, body, func(out apitype.TenantAdminSetup) error {
		fmt.Fprintf(stdout, "administrator %s (id %s) of tenant %s\nsetup token (single use, until %s):\n  %s\nthey choose their password with:\n  %s  {\"token\": \"...\", \"new_password\": \"...\"}\n",
			out.Username, out.UserID, pos[0], out.ExpiresAt.Format("2006-01-02 15:04:05Z07:00"), out.SetupToken, out.Setup)
		return nil
	})
}
