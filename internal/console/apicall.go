package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxAPIResponse bounds what one in-process call may return to a page.
const maxAPIResponse = 8 << 20

// apiResult is the answer of an in-process call to the server's handler.
type apiResult struct {
	Status int
	Header http.Header
	Body   []byte
}

// OK reports a 2xx status.
func (r *apiResult) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Decode unmarshals the body into v.
func (r *apiResult) Decode(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode API response (HTTP %d): %w", r.Status, err)
	}
	return nil
}

// apiError is a non-2xx answer from the API, kept with its envelope so the
// page can show the API's own words (a 403 names the missing scope).
type apiError struct {
	Status      int
	Code        string
	Description string
}

func (e *apiError) Error() string {
	if e.Description != "" {
		return e.Description
	}
	if e.Code != "" {
		return e.Code
	}
	return http.StatusText(e.Status)
}

// Err turns a non-2xx result into an *apiError; nil for 2xx.
func (r *apiResult) Err() error {
	if r.OK() {
		return nil
	}
	var env struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Detail      string `json:"detail"`
	}
	_ = json.Unmarshal(r.Body, &env)
	if env.Description == "" {
		env.Description = env.Detail
	}
	return &apiError{Status: r.Status, Code: env.Error, Description: env.Description}
}

// responseBuffer is the http.ResponseWriter of an in-process call.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(p) > maxAPIResponse {
		return 0, fmt.Errorf("API response larger than %d bytes", maxAPIResponse)
	}
	return b.body.Write(p)
}

// call is one in-process request.
type call struct {
	Method string
	Path   string     // with the query, e.g. /api/v1/users?page=2
	Bearer string     // the user's access token; empty for none
	JSON   any        // a JSON body, or
	Form   url.Values // a form body
	Basic  [2]string  // client id and secret for the token endpoints
}

// do serves c through handler. The request inherits ctx (which carries the
// browser request's id and client address, so the API's audit events name
// the real caller) and the browser's User-Agent and remote address.
func do(ctx context.Context, handler http.Handler, orig *http.Request, host string, c call) (*apiResult, error) {
	var body io.Reader
	contentType := ""
	switch {
	case c.JSON != nil:
		b, err := json.Marshal(c.JSON)
		if err != nil {
			return nil, fmt.Errorf("encode API request: %w", err)
		}
		body, contentType = bytes.NewReader(b), "application/json"
	case c.Form != nil:
		body, contentType = strings.NewReader(c.Form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.Path, body)
	if err != nil {
		return nil, fmt.Errorf("build API request: %w", err)
	}
	req.Host = host
	req.RequestURI = c.Path
	if orig != nil {
		req.RemoteAddr = orig.RemoteAddr
		req.Header.Set("User-Agent", orig.UserAgent())
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	if c.Basic[0] != "" {
		req.SetBasicAuth(url.QueryEscape(c.Basic[0]), url.QueryEscape(c.Basic[1]))
	}
	buf := &responseBuffer{header: http.Header{}}
	handler.ServeHTTP(buf, req)
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	return &apiResult{Status: buf.status, Header: buf.header, Body: buf.body.Bytes()}, nil
}
