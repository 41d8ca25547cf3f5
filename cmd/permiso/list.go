package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
)

// listing describes one `permiso <things> list` command: the API path, the
// key of the items in the paged answer, and how an item becomes a row.
type listing[T any] struct {
	things, path, key, searchHelp string
	header                        []string
	row                           func(T) []string
	// filters, if set, declares extra flags and returns a function that
	// adds them to the query once parsed.
	filters func(fs *flag.FlagSet) func(q url.Values) error
}

// run parses the shared list flags, fetches one page and prints it as a
// table (or the server's JSON with --json).
func (l listing[T]) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso "+l.things+" list", "[options]", "Lists "+l.things+".", stderr)
	conn := addConnFlags(fs)
	search := fs.String("search", "", l.searchHelp)
	page := fs.Int("page", 1, "page number")
	perPage := fs.Int("per-page", 100, l.things+" per page (1-100)")
	var addFilters func(url.Values) error
	if l.filters != nil {
		addFilters = l.filters(fs)
	}
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	q := url.Values{"page": {strconv.Itoa(*page)}, "per_page": {strconv.Itoa(*perPage)}}
	if *search != "" {
		q.Set("search", *search)
	}
	if addFilters != nil {
		if err := addFilters(q); err != nil {
			return err
		}
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, "GET", l.path+"?"+q.Encode(), nil, func(out map[string]json.RawMessage) error {
		var items []T
		var total, pageNo, pages int
		for k, dst := range map[string]any{l.key: &items, "total": &total, "page": &pageNo, "pages": &pages} {
			if err := json.Unmarshal(out[k], dst); err != nil {
				return fmt.Errorf("decode %s list: %s: %w", l.things, k, err)
			}
		}
		rows := make([][]string, len(items))
		for i, it := range items {
			rows[i] = l.row(it)
		}
		if err := writeTable(stdout, l.header, rows); err != nil {
			return err
		}
		pageNote(stderr, pageNo, pages, total, l.things)
		return nil
	})
}
