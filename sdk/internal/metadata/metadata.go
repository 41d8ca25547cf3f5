package metadata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Well-known paths of RFC 8414 §3 and OpenID Connect Discovery §4.
const (
	PathOAuth  = "/.well-known/oauth-authorization-server"
	PathOpenID = "/.well-known/openid-configuration"
)

// maxBody bounds a metadata document.
const maxBody = 1 << 20

// errNotFound means the document does not exist at a path.
var errNotFound = errors.New("metadata document not found")

// Fetch returns the metadata of issuer: the RFC 8414 document, or the OpenID
// Connect discovery document when the former answers 404. It checks that the
// document's issuer is the one asked for (RFC 8414 §3.3).
//
// For an issuer with a path (a Permiso tenant, https://auth.example.com/t/acme)
// RFC 8414 §3.1 puts the document at the host's well-known path followed by
// the issuer's path; OpenID Connect Discovery §4 appends its well-known path
// to the issuer. Both are tried, in that order.
func Fetch(ctx context.Context, hc *http.Client, issuer string) (*wire.Metadata, error) {
	base := strings.TrimSuffix(issuer, "/")
	md, err := get(ctx, hc, oauthURL(base))
	if errors.Is(err, errNotFound) {
		md, err = get(ctx, hc, base+PathOpenID)
	}
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", issuer, err)
	}
	if strings.TrimSuffix(md.Issuer, "/") != base {
		return nil, fmt.Errorf("discover %s: metadata names issuer %q", issuer, md.Issuer)
	}
	return md, nil
}

// oauthURL is the RFC 8414 §3.1 metadata URL of an issuer (without a
// trailing slash): the well-known path inserted between the host and the
// issuer's path.
func oauthURL(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.Path == "" {
		return issuer + PathOAuth
	}
	return u.Scheme + "://" + u.Host + PathOAuth + u.EscapedPath()
}

func get(ctx context.Context, hc *http.Client, url string) (*wire.Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, errNotFound
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{URL: url, Status: resp.StatusCode}
	}
	var md wire.Metadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("decode %s: %w", url, err)
	}
	return &md, nil
}

// StatusError reports an unexpected HTTP status from a metadata endpoint.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: unexpected HTTP status %d", e.URL, e.Status)
}
