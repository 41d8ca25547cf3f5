package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// runToken returns the token command: get a token (the default), or
// inspect or revoke one read from an argument or standard input.
func runToken(stdin io.Reader) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) > 0 {
			switch args[0] {
			case "inspect":
				return tokenInspect(ctx, args[1:], stdin, stdout, stderr)
			case "revoke":
				return tokenRevoke(ctx, args[1:], stdin, stdout, stderr)
			}
		}
		return tokenGet(ctx, args, stdout, stderr)
	}
}

// tokenGet gets an access token with the client_credentials grant and
// prints it alone, for scripts: TOKEN=$(permiso token ...).
func tokenGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso token", "[--client-id ID --client-secret SECRET] [options]\n"+
		"       permiso token inspect [TOKEN|-] [options]\n"+
		"       permiso token revoke [TOKEN|-] [options]",
		"Gets an access token with client credentials and prints it (the whole response with --json).\n"+
			"Credentials come from the flags, PERMISO_CLIENT_ID/PERMISO_CLIENT_SECRET, or the credentials file.\n"+
			"'permiso token inspect' decodes, verifies and introspects a token; 'permiso token revoke' revokes one.", stderr)
	conn := addConnFlagsFor(fs, "client's", "print the whole token response")
	scope := fs.String("scope", "", "scopes to request, separated by spaces or commas (default: all of the client's)")
	resource := fs.String("resource", "", "audience (RFC 8707 resource) of the token (default: the client's default audience)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	id, secret, err := conn.credentials()
	if err != nil {
		return err
	}
	params := url.Values{}
	if s := splitList(*scope); len(s) > 0 {
		params.Set("scope", strings.Join(s, " "))
	}
	if *resource != "" {
		params.Set("resource", *resource)
	}
	raw, err := requestToken(ctx, newHTTPClient(), conn.serverURL(), id, secret, params, stderr)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	var res struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || res.AccessToken == "" {
		return errors.New("token response without access_token")
	}
	_, err = fmt.Fprintln(stdout, res.AccessToken)
	return err
}

// parseTokenArg parses the command line of a command that takes one
// token, and returns the token given as the positional argument, or read
// from stdin when it is absent or "-".
func parseTokenArg(fs *flag.FlagSet, args []string, stdin io.Reader) (string, error) {
	pos, err := parseArgs(fs, args, -1)
	if err != nil {
		return "", err
	}
	if len(pos) > 1 {
		fs.Usage()
		return "", fmt.Errorf("expected at most 1 argument, got %d", len(pos))
	}
	if len(pos) == 1 && pos[0] != "-" {
		return strings.TrimSpace(pos[0]), nil
	}
	if stdin == nil {
		return "", errors.New("give the token as an argument or on standard input")
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read token from standard input: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("no token: give it as an argument or on standard input")
	}
	if strings.ContainsAny(tok, " \n\t") {
		return "", errors.New("standard input holds more than one token")
	}
	return tok, nil
}

func tokenRevoke(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso token revoke", "[TOKEN|-] [options]",
		"Revokes an access or refresh token (RFC 7009) at once, everywhere: introspection answers inactive and\n"+
			"resource servers following the revocation list refuse it. The credentials must be the token's own\n"+
			"client's, or hold admin:tokens (the bootstrap admin client does). The token is read from standard\n"+
			"input when not given.", stderr)
	conn := addConnFlagsFor(fs, "token's own client's (or an admin client's)", "print the server's JSON")
	tok, err := parseTokenArg(fs, args, stdin)
	if err != nil {
		return err
	}
	id, secret, err := conn.credentials()
	if err != nil {
		return err
	}
	if _, err := postForm(ctx, newHTTPClient(), conn.serverURL()+"/oauth2/revoke", id, secret, url.Values{"token": {tok}}, stderr); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, "revoked")
	return err
}
