package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
)

// open parses the command line, wanting want positional arguments, and
// connects. A command that checks its flags calls parseArgs and connect
// itself, in between, so that a mistake is reported without network
// access.
func (c *connFlags) open(ctx context.Context, fs *flag.FlagSet, args []string, want int, stderr io.Writer) (*adminClient, []string, error) {
	pos, err := parseArgs(fs, args, want)
	if err != nil {
		return nil, nil, err
	}
	api, err := c.connect(ctx, stderr)
	if err != nil {
		return nil, nil, err
	}
	return api, pos, nil
}

// callPrint sends one request and prints the answer: with --json the
// server's own JSON, so scripts see every field, else what print makes
// of it decoded.
func callPrint[T any](ctx context.Context, conn *connFlags, api *adminClient, stdout io.Writer,
	method, path string, body any, print func(T) error) error {
	var out T
	raw, err := api.callInto(ctx, method, path, body, &out)
	if err != nil {
		return err
	}
	if conn.json {
		return writeJSON(stdout, raw)
	}
	return print(out)
}

// deletePath deletes what path names and prints done. A DELETE answers
// nothing worth printing, so there is no --json form of it.
func deletePath(ctx context.Context, api *adminClient, path string, stdout io.Writer, done string) error {
	if _, err := api.call(ctx, "DELETE", path, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, done)
	return nil
}

// deleteNamed runs a delete command whose one argument names a thing at
// base/NAME, and prints "deleted THING NAME".
func deleteNamed(ctx context.Context, fs *flag.FlagSet, args []string, base, thing string, stdout, stderr io.Writer) error {
	conn := addConnFlags(fs)
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	return deletePath(ctx, api, base+"/"+url.PathEscape(pos[0]), stdout, "deleted "+thing+" "+pos[0])
}
