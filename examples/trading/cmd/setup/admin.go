package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// adminAPI calls Permiso's /api/v1 admin endpoints with an admin token.
type adminAPI struct {
	base string
	hc   *http.Client
}

// post sends body as JSON and returns the status and response body.
func (a *adminAPI) post(ctx context.Context, path string, body any) (int, []byte, error) {
	return a.send(ctx, http.MethodPost, path, body)
}

// send sends body as JSON with method and returns the status and response
// body.
func (a *adminAPI) send(ctx context.Context, method, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, fmt.Errorf("encode %s: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, fmt.Errorf("build %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return resp.StatusCode, rb, nil
}

// ensureScope creates a scope unless it exists; it reports whether it
// created it.
func (a *adminAPI) ensureScope(ctx context.Context, s scopeDef) (bool, error) {
	// Permiso names scopes action:resource (read:profile, admin:users), so
	// for trade:read the action is "trade" and the resource "read".
	action, resource, _ := strings.Cut(s.name, ":")
	status, body, err := a.post(ctx, "/roles/scopes", map[string]string{
		"name": s.name, "description": s.description, "resource": resource, "action": action,
	})
	if err != nil {
		return false, err
	}
	switch status {
	case http.StatusCreated, http.StatusOK:
		return true, nil
	case http.StatusConflict:
		return false, nil
	}
	return false, fmt.Errorf("create scope %s: HTTP %d: %s", s.name, status, body)
}

// ensureClient creates a service client unless it exists and returns its
// new secret ("" when it existed, or has none). c.Credentials, for a
// client without a secret, and c.Update are applied to an existing client
// too, so its registered key and its token-exchange policy are setup's.
func (a *adminAPI) ensureClient(ctx context.Context, c clientDef, audience string) (string, error) {
	fields := map[string]any{
		"name": c.Name, "client_id": c.ID, "description": c.Description, "client_type": "confidential",
		"scope_ids": c.Scopes, "audiences": []string{audience}, "is_trusted": c.Trusted,
		"access_token_lifetime": c.Lifetime, "dpop_bound_access_tokens": c.DPoP,
	}
	update := map[string]any{}
	for _, m := range []map[string]any{c.Credentials, c.Update} {
		for k, v := range m {
			fields[k], update[k] = v, v
		}
	}
	status, body, err := a.post(ctx, "/service-clients", fields)
	if err != nil {
		return "", err
	}
	switch status {
	case http.StatusCreated, http.StatusOK:
		var resp struct {
			ClientSecret string `json:"client_secret"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return "", fmt.Errorf("create client %s: %w", c.ID, err)
		}
		if resp.ClientSecret == "" && c.Credentials == nil {
			return "", fmt.Errorf("create client %s: response without client_secret", c.ID)
		}
		return resp.ClientSecret, nil
	case http.StatusConflict:
		if len(update) == 0 {
			return "", nil
		}
		status, body, err = a.send(ctx, http.MethodPut, "/service-clients/"+c.ID, update)
		if err != nil {
			return "", err
		}
		if status != http.StatusOK {
			return "", fmt.Errorf("update client %s: HTTP %d: %s", c.ID, status, body)
		}
		return "", nil
	}
	return "", fmt.Errorf("create client %s: HTTP %d: %s", c.ID, status, body)
}
