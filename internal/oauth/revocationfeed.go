package oauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/internal/tokens"
	"github.com/permiso-auth/permiso/internal/web"
)

// handleRevocations serves the revocation feed (docs/revocation-feed.md).
// Snapshot pages are built once and shared, so an answer is a map lookup
// and a write of gzipped bytes; an unchanged page is a 304.
func (p *Provider) handleRevocations(w http.ResponseWriter, r *http.Request) error {
	if p.cfg.FeedRequiresAuth {
		creds, err := ParseClientCredentials(r, nil)
		if err != nil {
			return err
		}
		if _, err := p.AuthenticateClient(r.Context(), creds, web.ClientIP(r.Context()), false); err != nil {
			return err
		}
	}
	q, err := tokens.ParseFeedQuery(r.URL.Query())
	if err != nil {
		return web.BadRequest("%s", err.Error())
	}
	page, err := p.cfg.Revocations.Feed(r.Context(), q)
	if errors.Is(err, tokens.ErrFeedBehind) {
		return web.Unavailable(err)
	}
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", page.ETag)
	if p.cfg.FeedRequiresAuth {
		h.Set("Cache-Control", "private, no-cache")
		h.Set("Vary", "Accept-Encoding, Authorization")
	} else {
		h.Set("Cache-Control", "no-cache")
		h.Set("Vary", "Accept-Encoding")
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if etagMatches(r.Header.Get("If-None-Match"), page.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	body := page.Gzipped()
	if body != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
	} else if body, err = page.JSON(); err != nil {
		return err
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding value allows gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			params = strings.ReplaceAll(params, " ", "")
			return params != "q=0" && params != "q=0.0" && params != "q=0.00" && params != "q=0.000"
		}
	}
	return false
}
