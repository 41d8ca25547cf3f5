package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// StatusError is an answer with an unexpected HTTP status.
type StatusError struct {
	Code int
	Body string // the start of the body, for setup errors
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return "HTTP " + strconv.Itoa(e.Code)
	}
	return "HTTP " + strconv.Itoa(e.Code) + ": " + e.Body
}

// CheckError is a 200 answer that lacks what the scenario expects; Kind
// names what was missing (such as "no_token" or "inactive").
type CheckError struct{ Kind string }

func (e *CheckError) Error() string { return "unexpected answer: " + e.Kind }

// ErrorKind classifies a failed request for the report: "http_<code>" for
// an unexpected status, the [CheckError] kind for a malformed answer, and
// "network" for everything else (refused, reset, closed connections).
func ErrorKind(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return "http_" + strconv.Itoa(se.Code)
	}
	var ce *CheckError
	if errors.As(err, &ce) {
		return ce.Kind
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "network"
}

// request is a prepared HTTP request that can be sent any number of times.
type request struct {
	method string
	url    string
	body   []byte
	header http.Header
	parsed *url.URL // set on first use; an Op owns its copy
}

func formRequest(baseURL, path string, form url.Values, basicUser, basicPass string) request {
	r := request{method: http.MethodPost, url: strings.TrimRight(baseURL, "/") + path,
		body: []byte(form.Encode()), header: http.Header{}}
	r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		r.header.Set("Authorization", basicAuth(basicUser, basicPass))
	}
	return r
}

func getRequest(baseURL, path string) request {
	return request{method: http.MethodGet, url: strings.TrimRight(baseURL, "/") + path, header: http.Header{}}
}

// basicAuth encodes RFC 6749 §2.3.1 client credentials: each part is
// form-urlencoded before the usual Basic encoding.
func basicAuth(user, pass string) string {
	raw := url.QueryEscape(user) + ":" + url.QueryEscape(pass)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(raw))
}

// send performs r and reads the whole body into buf. It returns a
// *StatusError for any status but want.
func (r *request) send(ctx context.Context, c *http.Client, buf *bytes.Buffer, want int) ([]byte, error) {
	req, err := r.build(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.url, err)
	}
	if resp.StatusCode != want {
		return buf.Bytes(), &StatusError{Code: resp.StatusCode}
	}
	return buf.Bytes(), nil
}

// build makes the *http.Request. The URL is parsed once and the header map
// is shared: neither the client nor the transport writes to them.
func (r *request) build(ctx context.Context) (*http.Request, error) {
	if r.parsed == nil {
		u, err := url.Parse(r.url)
		if err != nil {
			return nil, fmt.Errorf("build request: %w", err)
		}
		r.parsed = u
	}
	req := &http.Request{Method: r.method, URL: r.parsed, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: r.header, Host: r.parsed.Host}
	if r.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(r.body))
		req.ContentLength = int64(len(r.body))
	}
	return req.WithContext(ctx), nil
}

// jsonString returns the raw value of the first string member named key in
// a JSON object, without decoding escapes; ok is false when there is none
// or it is not a string. It is deliberately shallow: enough to check a
// token response without a decoder on the load path.
func jsonString(body []byte, key string) (val []byte, ok bool) {
	rest, ok := jsonValue(body, key)
	if !ok || len(rest) == 0 || rest[0] != '"' {
		return nil, false
	}
	rest = rest[1:]
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			i++
		case '"':
			return rest[:i], true
		}
	}
	return nil, false
}

// jsonValue returns the bytes starting at the value of member key.
func jsonValue(body []byte, key string) ([]byte, bool) {
	needle := `"` + key + `"`
	for {
		i := bytes.Index(body, []byte(needle))
		if i < 0 {
			return nil, false
		}
		rest := bytes.TrimLeft(body[i+len(needle):], " \t\r\n")
		if len(rest) > 0 && rest[0] == ':' {
			return bytes.TrimLeft(rest[1:], " \t\r\n"), true
		}
		body = body[i+len(needle):]
	}
}

// checkToken requires a non-empty access_token in a token response.
func checkToken(body []byte) error {
	if v, ok := jsonString(body, "access_token"); !ok || len(v) == 0 {
		return &CheckError{Kind: "no_token"}
	}
	return nil
}

// checkActive requires "active": true in an introspection response.
func checkActive(body []byte) error {
	if v, ok := jsonValue(body, "active"); !ok || !bytes.HasPrefix(v, []byte("true")) {
		return &CheckError{Kind: "inactive"}
	}
	return nil
}
