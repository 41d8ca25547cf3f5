package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// feedPollers are consumers of the revocation feed that follow it as the
// SDK's guard does (the whole snapshot, page by page, then deltas by
// cursor), with conditional requests and gzip, and poll in a loop with no
// pause: each round revalidates every snapshot page and asks for the delta
// after its cursor.
type feedPollers struct {
	base     string
	pollers  []*feedPoller
	requests atomic.Int64
	bytes    atomic.Int64 // as sent (gzipped)
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

// round revalidates the snapshot (downloading pages that changed) and
// fetches the delta after the cursor.
func (p *feedPoller) round(ctx context.Context) error {
	u := p.p.base + "/oauth2/revocations"
	var pages []string
	held, changed := 0, false
	for u != "" {
		page, fresh, err := p.get(ctx, u)
		if err != nil {
			return err
		}
		pages = append(pages, u)
		if !fresh { // 304: the page we hold
			if len(pages) > len(p.pages) {
				break
			}
			u = ""
			if len(pages) < len(p.pages) {
				u = p.pages[len(pages)]
			}
			continue
		}
		changed = true
		held += len(page.Entries)
		p.cursor = page.Cursor
		u = page.Next
	}
	if changed {
		p.pages, p.held = pages, held
	}
	if p.cursor == "" {
		return nil
	}
	d, fresh, err := p.get(ctx, p.p.base+"/oauth2/revocations?since="+p.cursor)
	if err != nil {
		return err
	}
	if fresh && d.Cursor != "" {
		p.cursor = d.Cursor
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
