package gateways

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/sdk/dpop"
	yaml "go.yaml.in/yaml/v3"
)

// traefikConfig is the part of traefik/dynamic.yaml the test reads.
type traefikConfig struct {
	HTTP struct {
		Routers map[string]struct {
			Middlewares []string `yaml:"middlewares"`
		} `yaml:"routers"`
		Middlewares struct {
			Strip struct {
				Headers struct {
					CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
				} `yaml:"headers"`
			} `yaml:"strip-identity"`
			Permiso struct {
				ForwardAuth struct {
					Address             string   `yaml:"address"`
					TrustForwardHeader  bool     `yaml:"trustForwardHeader"`
					AuthRequestHeaders  []string `yaml:"authRequestHeaders"`
					AuthResponseHeaders []string `yaml:"authResponseHeaders"`
				} `yaml:"forwardAuth"`
			} `yaml:"permiso"`
		} `yaml:"middlewares"`
	} `yaml:"http"`
}

// checkTraefik sends the decision the requests Traefik's forwardAuth
// middleware builds from the shipped configuration (there is no Traefik
// binary here): a GET to the address with the client headers listed in
// authRequestHeaders and the X-Forwarded-* headers Traefik sets, and checks
// the answer gives Traefik what authResponseHeaders copies.
func checkTraefik(t *testing.T, s *stack) {
	b, err := os.ReadFile("traefik/dynamic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c traefikConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	fa := c.HTTP.Middlewares.Permiso.ForwardAuth
	if fa.TrustForwardHeader {
		t.Fatal("trustForwardHeader must be false: Traefik would pass the client's X-Forwarded-* through")
	}
	if got := c.HTTP.Routers["trading-api"].Middlewares; !slices.Equal(got, []string{"strip-identity", "permiso"}) {
		t.Fatalf("router middlewares %v: strip the identity headers before deciding", got)
	}
	for _, h := range identityHeaders {
		if v, ok := c.HTTP.Middlewares.Strip.Headers.CustomRequestHeaders[h]; !ok || v != "" {
			t.Errorf("strip-identity does not delete %s", h)
		}
		if !slices.Contains(fa.AuthResponseHeaders, h) {
			t.Errorf("authResponseHeaders lacks %s", h)
		}
	}
	address := strings.Replace(fa.Address, "127.0.0.1:9181", s.gateway, 1)
	if address == fa.Address {
		t.Fatalf("address %q no longer points at 127.0.0.1:9181; update the test", fa.Address)
	}
	tok := s.permiso.Token(t, "trading-bot", s.botSecret, mt5, "trade:read")

	// forward builds the request as Traefik does: client headers filtered
	// by authRequestHeaders, X-Forwarded-* from the request itself.
	forward := func(method, uri string, client http.Header) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, address, nil)
		for _, h := range fa.AuthRequestHeaders {
			if v := client.Values(h); len(v) > 0 {
				req.Header[http.CanonicalHeaderKey(h)] = v
			}
		}
		req.Header.Set("X-Forwarded-Method", method)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "api.example.com")
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	client := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}

	t.Run("allowed gives every copied header", func(t *testing.T) {
		resp, body := forward("GET", "/api/v1/trades", client("Authorization", "Bearer "+tok, "X-Auth-Subject", "admin"))
		if resp.StatusCode != 200 {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		for _, h := range fa.AuthResponseHeaders {
			if _, ok := resp.Header[h]; !ok {
				t.Errorf("response lacks %s, so Traefik would leave the client's in place", h)
			}
		}
		if resp.Header.Get("X-Auth-Subject") != "trading-bot" || resp.Header.Get("X-Auth-Scopes") != "trade:read" {
			t.Errorf("identity %v", resp.Header)
		}
	})
	t.Run("public gives every copied header, empty", func(t *testing.T) {
		resp, body := forward("GET", "/health", client("X-Auth-Subject", "admin"))
		if resp.StatusCode != 200 {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
		for _, h := range fa.AuthResponseHeaders {
			if v, ok := resp.Header[h]; !ok || len(v) != 1 || v[0] != "" {
				t.Errorf("%s = %q, want present and empty", h, v)
			}
		}
	})
	t.Run("a DPoP-bound token with its proof passes authRequestHeaders", func(t *testing.T) {
		signer := newDPoPSigner(t)
		bound := s.permiso.DPoPToken(t, signer, "trading-bot", s.botSecret, mt5, "trade:read")
		proof, err := signer.Proof("GET", "https://api.example.com/api/v1/trades", dpop.ProofOptions{AccessToken: bound})
		if err != nil {
			t.Fatal(err)
		}
		resp, body := forward("GET", "/api/v1/trades", client("Authorization", "DPoP "+bound, "DPoP", proof))
		if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Subject") != "trading-bot" {
			t.Fatalf("got %d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = forward("GET", "/api/v1/trades", client("Authorization", "DPoP "+bound))
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "DPoP") {
			t.Fatalf("without the proof: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	})
	t.Run("refusals carry what Traefik relays to the client", func(t *testing.T) {
		resp, body := forward("POST", "/api/v1/trades", client("Authorization", "Bearer "+tok))
		var r struct {
			Error   string   `json:"error"`
			Missing []string `json:"missing_scopes"`
		}
		if resp.StatusCode != 403 || json.Unmarshal(body, &r) != nil || r.Error != "insufficient_scope" ||
			!slices.Equal(r.Missing, []string{"trade:open"}) || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="trade:open"`) {
			t.Fatalf("got %d %v %s", resp.StatusCode, resp.Header, body)
		}
		resp, body = forward("GET", "/api/v1/trades", client())
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("got %d %v %s", resp.StatusCode, resp.Header, body)
		}
		for _, h := range fa.AuthResponseHeaders {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("refusal carries %s = %q", h, v)
			}
		}
	})
}
