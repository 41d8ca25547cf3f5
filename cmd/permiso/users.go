package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
)

// runUsers returns the users command, reading passwords from stdin when
// asked to.
func runUsers(stdin io.Reader) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return runSubcommand(ctx, "users", userSubcommands(stdin), args, stdout, stderr)
	}
}

func userSubcommands(stdin io.Reader) []subcommand {
	return []subcommand{
		{"create", "create a user (--admin: a console administrator) and print the password once", withStdin(stdin, usersCreate)},
		{"list", "list users", usersList},
		{"show", "show one user", usersShow},
		{"set-roles", "replace a user's roles", usersSetRoles},
		{"disable", "disable a user: their sessions and tokens stop working", usersDisable},
		{"enable", "enable a disabled user", usersEnable},
		{"unlock", "lift a lockout after too many failed logins", usersUnlock},
		{"reset-password", "set a new password (generated unless --password-stdin) and end the user's sessions",
			withStdin(stdin, usersResetPassword)},
		{"delete", "delete a user with their sessions", usersDelete},
	}
}

// withStdin binds standard input to a subcommand that reads it.
func withStdin(stdin io.Reader, f func(context.Context, []string, io.Reader, io.Writer, io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return f(ctx, args, stdin, stdout, stderr)
	}
}

const usersPath = "/api/v1/users"

// userArg is the USER argument every user subcommand takes: an id, a
// username or an email.
const userArg = "USER"

const userArgHelp = "USER is the user's id, username or email."

func usersList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return listing[apitype.User]{things: "users", path: usersPath, key: "users",
		searchHelp: "only users whose username, email or name contains this",
		header:     []string{"USERNAME", "EMAIL", "ROLES", "STATUS", "LAST_LOGIN", "ID"},
		row: func(u apitype.User) []string {
			return []string{u.Username, u.Email, orDash(strings.Join(u.RoleNames(), ",")), userStatus(u), fmtTime(u.LastLogin), u.ID}
		},
		filters: func(fs *flag.FlagSet) func(url.Values) error {
			role := fs.String("role", "", "only users holding this role (name or id)")
			disabled := fs.Bool("disabled", false, "only disabled users")
			return func(q url.Values) error {
				if *role != "" {
					q.Set("role_id", *role)
				}
				if *disabled {
					q.Set("is_active", "false")
				}
				return nil
			}
		}}.run(ctx, args, stdout, stderr)
}

func userStatus(u apitype.User) string {
	switch {
	case !u.IsActive:
		return "disabled"
	case u.IsLocked && len(u.Lockouts) > 0:
		var parts []string
		for _, l := range u.Lockouts {
			from := "from " + l.Source
			if l.Source == "*" {
				from = "from every address"
			}
			parts = append(parts, fmt.Sprintf("locked %s until %s", from, fmtTime(&l.LockedUntil)))
		}
		return strings.Join(parts, "; ")
	case u.IsLocked:
		return "locked until " + fmtTime(u.LockedUntil)
	}
	return "active"
}

// findUser resolves USER to the API's user: an id directly, a username
// or email through the list's search (exact match, any case).
func findUser(ctx context.Context, api *adminClient, ref string) (apitype.User, []byte, error) {
	var u apitype.User
	if store.IsID(ref) {
		raw, err := api.callInto(ctx, "GET", usersPath+"/"+url.PathEscape(ref), nil, &u)
		return u, raw, err
	}
	// The search matches parts of names too: look through its pages for
	// the exact username or email.
	for page := 1; ; page++ {
		var list apitype.UserList
		q := url.Values{"search": {ref}, "per_page": {"100"}, "page": {strconv.Itoa(page)}}
		if _, err := api.callInto(ctx, "GET", usersPath+"?"+q.Encode(), nil, &list); err != nil {
			return u, nil, err
		}
		for _, cand := range list.Users {
			if strings.EqualFold(cand.Username, ref) || strings.EqualFold(cand.Email, ref) {
				// Read it again by id, so --json prints the same as for an id.
				raw, err := api.callInto(ctx, "GET", usersPath+"/"+url.PathEscape(cand.ID), nil, &u)
				return u, raw, err
			}
		}
		if page >= list.Pages {
			break
		}
	}
	return u, nil, fmt.Errorf("no user with id, username or email %q", ref)
}

// printUser shows one user as a two-column table.
func printUser(w io.Writer, u apitype.User) error {
	deref := func(s *string) string {
		if s == nil {
			return "-"
		}
		return orDash(*s)
	}
	return writeTable(w, []string{"FIELD", "VALUE"}, [][]string{
		{"id", u.ID}, {"username", u.Username}, {"email", u.Email}, {"name", deref(nilIfEmpty(u.FullName))},
		{"display_name", deref(u.DisplayName)}, {"status", userStatus(u)},
		{"verified", strconv.FormatBool(u.IsVerified)}, {"superuser", strconv.FormatBool(u.IsSuperuser)},
		{"roles", orDash(strings.Join(u.RoleNames(), ","))}, {"scopes", orDash(strings.Join(u.Scopes, " "))},
		{"failed_logins", strconv.Itoa(u.FailedLoginAttempts)}, {"last_login", fmtTime(u.LastLogin)},
		{"password_changed_at", fmtTime(&u.PasswordChangedAt)}, {"created_at", fmtTime(&u.CreatedAt)},
	})
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// userCommand parses a subcommand that takes USER and connects.
func userCommand(ctx context.Context, name, usage, help string, args []string, stderr io.Writer,
	extra func(fs *flag.FlagSet)) (*connFlags, *adminClient, string, error) {
	fs := newFlagSet("permiso users "+name, usage, help+"\n"+userArgHelp, stderr)
	conn := addConnFlags(fs)
	if extra != nil {
		extra(fs)
	}
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return nil, nil, "", err
	}
	return conn, api, pos[0], nil
}

func usersShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	conn, api, ref, err := userCommand(ctx, "show", userArg+" [options]", "Shows one user.", args, stderr, nil)
	if err != nil {
		return err
	}
	u, raw, err := findUser(ctx, api, ref)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	return printUser(stdout, u)
}

// userChange finds USER, sends one request about them and prints the
// user it returns with a one-line summary.
func userChange(ctx context.Context, conn *connFlags, api *adminClient, ref, method, suffix string, body any,
	summary func(apitype.User) string, stdout io.Writer) error {
	u, _, err := findUser(ctx, api, ref)
	if err != nil {
		return err
	}
	path := usersPath + "/" + url.PathEscape(u.ID) + suffix
	return callPrint(ctx, conn, api, stdout, method, path, body, func(out apitype.User) error {
		_, err := fmt.Fprintln(stdout, summary(out))
		return err
	})
}

func usersSetRoles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var roles *string
	conn, api, ref, err := userCommand(ctx, "set-roles", userArg+" --roles ROLE,ROLE [options]",
		"Replaces the user's roles (--roles \"\" removes them all). Roles apply to tokens issued from now on.", args, stderr,
		func(fs *flag.FlagSet) {
			roles = fs.String("roles", "", "role names or ids, separated by commas or spaces")
		})
	if err != nil {
		return err
	}
	ids := splitList(*roles)
	return userChange(ctx, conn, api, ref, "PUT", "/roles", apitype.UserRoles{RoleIDs: &ids}, func(u apitype.User) string {
		return fmt.Sprintf("roles of %s: %s", u.Username, orDash(strings.Join(u.RoleNames(), ",")))
	}, stdout)
}

func usersDisable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usersSetActive(ctx, false, args, stdout, stderr)
}

func usersEnable(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return usersSetActive(ctx, true, args, stdout, stderr)
}

func usersSetActive(ctx context.Context, active bool, args []string, stdout, stderr io.Writer) error {
	name, help, verb := "disable", "Disables a user: they cannot log in, and their sessions and tokens stop working.", "disabled"
	if active {
		name, help, verb = "enable", "Enables a disabled user.", "enabled"
	}
	conn, api, ref, err := userCommand(ctx, name, userArg+" [options]", help, args, stderr, nil)
	if err != nil {
		return err
	}
	return userChange(ctx, conn, api, ref, "PUT", "", apitype.UserUpdate{IsActive: &active}, func(u apitype.User) string {
		return verb + " user " + u.Username
	}, stdout)
}

func usersUnlock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	conn, api, ref, err := userCommand(ctx, "unlock", userArg+" [options]",
		"Lifts a lockout after too many failed logins and resets the failure count.", args, stderr, nil)
	if err != nil {
		return err
	}
	return userChange(ctx, conn, api, ref, "POST", "/unlock", nil, func(u apitype.User) string {
		return "unlocked user " + u.Username
	}, stdout)
}

func usersDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, api, ref, err := userCommand(ctx, "delete", userArg+" [options]",
		"Deletes a user; their sessions and refresh tokens go with them.", args, stderr, nil)
	if err != nil {
		return err
	}
	u, _, err := findUser(ctx, api, ref)
	if err != nil {
		return err
	}
	if _, err := api.call(ctx, "DELETE", usersPath+"/"+url.PathEscape(u.ID), nil); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "deleted user %s\n", u.Username)
	return err
}
