package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// The admin commands (clients, scopes, roles, keys) call the /api/v1 admin
// API of a running server, so the CLI works the same against a local,
// remote or replicated Permiso.

const defaultServer = "http://127.0.0.1:8000"

// defaultCredentialsFile is where `permiso serve` writes the bootstrap
// admin credentials with the default data directory.
var defaultCredentialsFile = filepath.Join("permiso-data", "bootstrap-admin.json")

// connFlags are the connection flags every admin command shares. Defaults
// from the environment are applied after parsing, so --help never prints
// a secret taken from the environment.
type connFlags struct {
	server, clientID, clientSecret, credentialsFile string
	json                                            bool
}

// addConnFlags declares the connection flags of an admin command: the
// credentials are an administrator's (the bootstrap client by default).
func addConnFlags(fs *flag.FlagSet) *connFlags {
	return addConnFlagsFor(fs, "admin client's", "print the server's JSON instead of a table")
}

// addConnFlagsFor declares the connection flags; whose names the client
// the credentials belong to, in help texts.
func addConnFlagsFor(fs *flag.FlagSet, whose, jsonHelp string) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.server, "server", "", "Permiso server URL (env PERMISO_SERVER; default "+defaultServer+")")
	fs.StringVar(&c.clientID, "client-id", "", "the "+whose+" client_id (env PERMISO_CLIENT_ID)")
	fs.StringVar(&c.clientSecret, "client-secret", "", "the "+whose+" secret (env PERMISO_CLIENT_SECRET; a flag is visible to other local users, prefer the environment or a file)")
	fs.StringVar(&c.credentialsFile, "credentials-file", "",
		"JSON file with client_id and client_secret (env PERMISO_CREDENTIALS_FILE; default "+defaultCredentialsFile+" if present)")
	fs.BoolVar(&c.json, "json", false, jsonHelp)
	return c
}

func (c *connFlags) serverURL() string {
	s := firstNonEmpty(c.server, os.Getenv("PERMISO_SERVER"), defaultServer)
	return strings.TrimSuffix(s, "/")
}

// credentials resolves the admin credentials: flags, then environment,
// then the credentials file.
func (c *connFlags) credentials() (id, secret string, err error) {
	id = firstNonEmpty(c.clientID, os.Getenv("PERMISO_CLIENT_ID"))
	secret = firstNonEmpty(c.clientSecret, os.Getenv("PERMISO_CLIENT_SECRET"))
	if id != "" || secret != "" {
		if id == "" || secret == "" {
			return "", "", errors.New("give both --client-id and --client-secret (or PERMISO_CLIENT_ID and PERMISO_CLIENT_SECRET)")
		}
		return id, secret, nil
	}
	path := firstNonEmpty(c.credentialsFile, os.Getenv("PERMISO_CREDENTIALS_FILE"))
	if path == "" {
		if _, err := os.Stat(defaultCredentialsFile); err != nil {
			return "", "", errors.New("no admin credentials: use --client-id and --client-secret, --credentials-file, " +
				"or run in the directory holding " + defaultCredentialsFile)
		}
		path = defaultCredentialsFile
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read credentials: %w", err)
	}
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &creds); err != nil || creds.ClientID == "" || creds.ClientSecret == "" {
		return "", "", fmt.Errorf("credentials file %s must hold {\"client_id\": ..., \"client_secret\": ...}", path)
	}
	return creds.ClientID, creds.ClientSecret, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// adminClient makes authenticated JSON requests to the admin API.
type adminClient struct {
	base   string
	http   *http.Client
	token  string
	stderr io.Writer
}

func newHTTPClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// connect resolves credentials and gets an access token for them. The
// token is asked for Permiso's own API (resource = the issuer, read from
// the server's metadata): the API accepts no token issued for another
// service, and an admin client with audiences of its own would otherwise
// get its default one.
func (c *connFlags) connect(ctx context.Context, stderr io.Writer) (*adminClient, error) {
	id, secret, err := c.credentials()
	if err != nil {
		return nil, err
	}
	hc := newHTTPClient()
	var md struct {
		Issuer string `json:"issuer"`
	}
	if err := getJSON(ctx, hc, c.serverURL()+"/.well-known/oauth-authorization-server", &md); err != nil {
		return nil, fmt.Errorf("read the server's metadata: %w", err)
	}
	if md.Issuer == "" {
		return nil, fmt.Errorf("the server at %s names no issuer in its metadata", c.serverURL())
	}
	tok, err := requestToken(ctx, hc, c.serverURL(), id, secret, url.Values{"resource": {md.Issuer}}, stderr)
	if err != nil {
		return nil, err
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(tok, &body); err != nil || body.AccessToken == "" {
		return nil, errors.New("token response without access_token")
	}
	return &adminClient{base: c.serverURL(), http: hc, token: body.AccessToken, stderr: stderr}, nil
}

// requestToken runs the client_credentials grant at /oauth2/token with
// client_secret_basic and returns the raw JSON response.
func requestToken(ctx context.Context, hc *http.Client, server, id, secret string, params url.Values, stderr io.Writer) ([]byte, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range params {
		form[k] = v
	}
	return postForm(ctx, hc, server+"/oauth2/token", id, secret, form, stderr)
}

// postForm posts form to an OAuth endpoint with client_secret_basic and
// returns the body of a 2xx answer.
func postForm(ctx context.Context, hc *http.Client, endpoint, id, secret string, form url.Values, stderr io.Writer) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return send(hc, req, stderr)
}

// send performs req and returns the body of a 2xx response. A server
// error is printed to stderr as "error_code: description" and returned
// as a short error.
func send(hc *http.Client, req *http.Request, stderr io.Writer) ([]byte, error) {
	res, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %w", req.Method, req.URL.Path, err)
	}
	if res.StatusCode/100 == 2 {
		return b, nil
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		fmt.Fprintf(stderr, "%s: %s\n", e.Error, e.Description)
	} else {
		text := strings.TrimSpace(string(b))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		fmt.Fprintf(stderr, "HTTP %d: %s\n", res.StatusCode, text)
	}
	return nil, fmt.Errorf("%s %s: server answered %s", req.Method, req.URL.Path, res.Status)
}

// call sends a JSON request (body may be nil) and returns the raw response.
func (a *adminClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+a.token)
	return send(a.http, req, a.stderr)
}

// callInto calls and decodes the response into out.
func (a *adminClient) callInto(ctx context.Context, method, path string, body, out any) ([]byte, error) {
	raw, err := a.call(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode response of %s %s: %w", method, path, err)
		}
	}
	return raw, nil
}

// writeJSON prints raw JSON indented.
func writeJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// writeTable prints aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// pageNote tells the user, on stderr, that a list has more pages.
func pageNote(stderr io.Writer, page, pages, total int, what string) {
	if pages > 1 {
		fmt.Fprintf(stderr, "page %d of %d (%d %s in all); use --page and --per-page for more\n", page, pages, total, what)
	}
}

// plural counts: plural(1, "user", "users") is "1 user", plural(4, ...)
// "4 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// splitList splits a list flag on commas and white space alike, so
// "a,b", "a b" and "a, b" mean the same; empty entries are dropped.
func splitList(s string) []string {
	out := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if out == nil {
		out = []string{}
	}
	return out
}

// shellQuote quotes s for a POSIX shell: inside single quotes, each
// single quote closes the quoting, is escaped, and reopens it. Whatever
// the server sends, eval runs no command.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// subcommand is one action of a command group such as `permiso clients`.
type subcommand struct {
	name, help string
	run        func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// runSubcommand dispatches args[0] to one of subs.
func runSubcommand(ctx context.Context, group string, subs []subcommand, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(stderr, "Usage: permiso %s <subcommand> [options]\n\nSubcommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(stderr, "  %-14s %s\n", s.name, s.help)
		}
		fmt.Fprintf(stderr, "\nRun 'permiso %s <subcommand> --help' for its options.\n", group)
		if len(args) == 0 {
			return errors.New("missing subcommand")
		}
		return flag.ErrHelp
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("unknown subcommand %q; run 'permiso %s --help'", args[0], group)
}

// newFlagSet returns a FlagSet whose --help shows usage, help and options.
func newFlagSet(name, usage, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s\n\n%s\n\nOptions:\n", name, usage, help)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags given before or after the positional arguments
// (the flag package alone stops at the first positional one) and checks
// that there are exactly want positional arguments (any number when want
// is negative).
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if want >= 0 && len(pos) != want {
		fs.Usage()
		return nil, fmt.Errorf("expected %s, got %d", plural(want, "argument", "arguments"), len(pos))
	}
	return pos, nil
}

// isSet reports whether the flag was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
