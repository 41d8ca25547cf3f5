package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// feedPollers are consumers of the revocation feed that follow it as the
// SDK's guard does (the whole snapshot, page by page, then deltas by
// cursor), with conditional requests and gzip, but poll in a loop with no
// pause. With refetch set they download the whole snapshot every round.
type feedPollers struct {
	base     string
	pollers  []*feedPoller
	requests atomic.Int64
	bytes    atomic.Int64 // as sent (gzipped)
	// refetch makes every round download the whole snapshot again,
	// unconditionally, as a consumer that ignores ETags and deltas does;
	// the bytes are discarded. Set it only between runs.
	refetch bool
}

type feedPoller struct {
	p      *feedPollers
	client *http.Client
	cursor string
	pages  []string          // the snapshot's page URLs
	etags  map[string]string // URL -> ETag
	held   int
}

type feedPage struct {
	Type    string            `json:"type"`
	Cursor  string            `json:"cursor"`
	Entries []json.RawMessage `json:"entries"`
	Next    string            `json:"next"`
}

func newFeedPollers(base string, n int) *feedPollers {
	fp := &feedPollers{base: base}
	for range n {
		fp.pollers = append(fp.pollers, &feedPoller{p: fp, client: newClient(1, false), etags: map[string]string{}})
	}
	return fp
}

// syncAll brings every poller up to date, one after the other.
func (fp *feedPollers) syncAll(ctx context.Context) error {
	for _, p := range fp.pollers {
		if err := p.round(ctx); err != nil {
			return fmt.Errorf("revocation feed: %w", err)
		}
	}
	return nil
}

// entries is how many revocations the first poller holds.
func (fp *feedPollers) entries() int { return fp.pollers[0].held }

// during runs every poller in a loop while run runs.
func (fp *feedPollers) during(run func() error) error {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, p := range fp.pollers {
		wg.Go(func() {
			for ctx.Err() == nil {
				_ = p.round(ctx) // a failed round is retried by the next
			}
		})
	}
	err := run()
	cancel()
	wg.Wait()
	return err
}

// round does what one poll of the SDK's guard does: with no cursor yet,
// it collects the whole snapshot page by page; then it asks for the
// delta after its cursor (following next links, also when the server
// answers a stale cursor with a new snapshot). Pages are asked for with
// the ETags of earlier answers.
func (p *feedPoller) round(ctx context.Context) error {
	if p.p.refetch {
		for _, u := range p.pages {
			if err := p.download(ctx, u); err != nil {
				return err
			}
		}
		return nil
	}
	u := p.p.base + "/oauth2/revocations"
	if p.cursor != "" {
		u += "?since=" + url.QueryEscape(p.cursor)
	}
	var snapshot []string // the URLs of a snapshot's pages, if this answer is one
	snapHeld := 0
	for u != "" {
		page, fresh, err := p.get(ctx, u)
		if err != nil {
			return err
		}
		if !fresh { // 304: nothing new
			return nil
		}
		if page.Type == "snapshot" {
			snapshot = append(snapshot, u)
			snapHeld += len(page.Entries)
		} else {
			p.held += len(page.Entries)
		}
		p.cursor, u = page.Cursor, page.Next
	}
	if snapshot != nil {
		p.pages, p.held = snapshot, snapHeld
	}
	return nil
}

// download fetches one page unconditionally and discards it.
func (p *feedPoller) download(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	p.p.requests.Add(1)
	p.p.bytes.Add(n)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// get fetches one page conditionally; fresh is false for a 304.
func (p *feedPoller) get(ctx context.Context, u string) (*feedPage, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	if et := p.etags[u]; et != "" {
		req.Header.Set("If-None-Match", et)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	p.p.requests.Add(1)
	p.p.bytes.Add(int64(len(raw)))
	if err != nil {
		return nil, false, err
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		return nil, false, nil
	case http.StatusOK:
	default:
		return nil, false, &StatusError{Code: resp.StatusCode}
	}
	p.etags[u] = resp.Header.Get("ETag")
	body := raw
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, false, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, false, err
		}
	}
	var page feedPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, false, fmt.Errorf("decode %s: %w", u, err)
	}
	return &page, true, nil
}
