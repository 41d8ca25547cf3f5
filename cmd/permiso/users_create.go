package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
)

// passwordFlags choose where a new password comes from: generated (the
// default, printed once) or read from standard input, never from a flag
// (which other local users could read in the process list).
type passwordFlags struct {
	stdin bool
	in    io.Reader
}

func addPasswordFlags(fs *flag.FlagSet, in io.Reader) *passwordFlags {
	p := &passwordFlags{in: in}
	fs.BoolVar(&p.stdin, "password-stdin", false, "read the password from standard input (first line) instead of generating one")
	return p
}

// password returns the password and whether it was generated.
func (p *passwordFlags) password() (string, bool, error) {
	if !p.stdin {
		return generatePassword(), true, nil
	}
	line, err := bufio.NewReader(io.LimitReader(p.in, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", false, errors.New("--password-stdin: standard input held no password")
	}
	return line, false, nil
}

// generatePassword returns 20 random characters holding every class the
// password policy asks for (upper, lower, digit, special), so it passes
// any policy Permiso can be configured with.
func generatePassword() string {
	const (
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower   = "abcdefghijkmnopqrstuvwxyz"
		digits  = "23456789"
		special = "!@#%^*.,?"
		all     = upper + lower + digits + special
	)
	b := []byte{pick(upper), pick(lower), pick(digits), pick(special)}
	for len(b) < 20 {
		b = append(b, pick(all))
	}
	// Shuffle so the classes are not always in front (Fisher–Yates).
	for i := len(b) - 1; i > 0; i-- {
		j := randInt(i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

func pick(set string) byte { return set[randInt(len(set))] }

// randInt returns a uniform random int in [0, n) from crypto/rand.
func randInt(n int) int {
	var b [1]byte
	limit := 256 - 256%n // reject the biased tail
	for {
		rand.Read(b[:])
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}

func usersCreate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso users create", "--username NAME --email ADDRESS [options]",
		"Creates a user. The password is generated and printed once, unless --password-stdin gives one.\n"+
			"--admin gives the user the admin role: they can then sign in to the console at SERVER/admin/.", stderr)
	conn := addConnFlags(fs)
	pw := addPasswordFlags(fs, stdin)
	username := fs.String("username", "", "username: 3-50 of A-Z a-z 0-9 _ - (stored lowercase)")
	email := fs.String("email", "", "email address")
	admin := fs.Bool("admin", false, "give the user the admin role (every admin scope: the whole console)")
	roles := fs.String("roles", "", "role names or ids, separated by commas or spaces (default: none; with --admin: admin)")
	verified := fs.Bool("verified", false, "mark the email address verified")
	first := fs.String("first-name", "", "first name")
	last := fs.String("last-name", "", "last name")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *username == "" || *email == "" {
		fs.Usage()
		return errors.New("--username and --email are required")
	}
	password, generated, err := pw.password()
	if err != nil {
		return err
	}
	roleList := splitList(*roles)
	if *admin && !containsFold(roleList, "admin") {
		roleList = append(roleList, "admin")
	}
	body := apitype.UserCreate{Username: *username, Email: *email, Password: password, FirstName: *first, LastName: *last}
	if len(roleList) > 0 {
		body.RoleIDs = &roleList
	}
	if *verified {
		body.IsVerified = verified
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	var u apitype.User
	raw, err := api.callInto(ctx, "POST", usersPath, body, &u)
	if err != nil {
		return err
	}
	return printNewPassword(conn, stdout, stderr, raw, u, password, generated, "created user")
}

// printNewPassword reports a created or reset user, with the password
// when it was generated (it is shown this once).
func printNewPassword(conn *connFlags, stdout, stderr io.Writer, raw []byte, u apitype.User, password string, generated bool, verb string) error {
	if conn.json {
		out := struct {
			User     json.RawMessage `json:"user"`
			Password *string         `json:"password"`
		}{User: raw}
		if generated {
			out.Password = &password
		}
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		return writeJSON(stdout, b)
	}
	fmt.Fprintf(stdout, "%s %s (id %s)\n", verb, u.Username, u.ID)
	fmt.Fprintf(stdout, "roles:    %s\n", orDash(strings.Join(u.RoleNames(), ",")))
	if generated {
		fmt.Fprintf(stdout, "password: %s\n", password)
		fmt.Fprintln(stderr, "Store the password now: it is not shown again.")
	}
	if containsFold(u.RoleNames(), "admin") {
		fmt.Fprintf(stderr, "Sign in to the console at %s/admin/\n", conn.serverURL())
	}
	return nil
}

func usersResetPassword(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var pw *passwordFlags
	conn, api, ref, err := userCommand(ctx, "reset-password", userArg+" [options]",
		"Sets a new password for a user (generated and printed once, unless --password-stdin gives one).\n"+
			"Every session of the user ends and their refresh tokens are revoked.", args, stderr,
		func(fs *flag.FlagSet) { pw = addPasswordFlags(fs, stdin) })
	if err != nil {
		return err
	}
	password, generated, err := pw.password()
	if err != nil {
		return err
	}
	u, raw, err := findUser(ctx, api, ref)
	if err != nil {
		return err
	}
	if _, err := api.call(ctx, "PUT", usersPath+"/"+url.PathEscape(u.ID)+"/password", apitype.PasswordChange{NewPassword: password}); err != nil {
		return err
	}
	return printNewPassword(conn, stdout, stderr, raw, u, password, generated, "new password for")
}

// containsFold reports whether list holds s in any case (role names are
// case-insensitive).
func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}
