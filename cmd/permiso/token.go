package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// runToken gets an access token with the client_credentials grant and
// prints it alone, for scripts: TOKEN=$(permiso token ...).
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso token", "--client-id ID --client-secret SECRET [options]",
		"Gets an access token with client credentials and prints it (the whole response with --json).\n"+
			"Credentials come from the flags, PERMISO_CLIENT_ID/PERMISO_CLIENT_SECRET, or the credentials file.", stderr)
	conn := addConnFlags(fs)
	scope := fs.String("scope", "", "space- or comma-separated scopes to request (default: all of the client's)")
	resource := fs.String("resource", "", "audience (RFC 8707 resource) of the token (default: the client's default audience)")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	id, secret, err := conn.credentials()
	if err != nil {
		return err
	}
	params := url.Values{}
	if s := strings.Fields(strings.ReplaceAll(*scope, ",", " ")); len(s) > 0 {
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
