package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestGatewayFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		fail []string
		poll time.Duration
		id   string
		sec  string
	}{
		{name: "flags", args: []string{"--issuer", "https://auth.example.com/", "--rules", "r.yaml"}, poll: 5 * time.Second},
		{name: "env", env: []string{"PERMISO_GATEWAY_ISSUER=http://127.0.0.1:8000", "PERMISO_GATEWAY_RULES=r.yaml",
			"PERMISO_GATEWAY_REVOCATION_POLL=2s"}, poll: 2 * time.Second},
		{name: "flag wins over env", args: []string{"--revocation-poll", "3s"}, env: []string{"PERMISO_GATEWAY_ISSUER=http://a",
			"PERMISO_GATEWAY_RULES=r.yaml", "PERMISO_GATEWAY_REVOCATION_POLL=2s"}, poll: 3 * time.Second},
		{name: "client certificates", args: []string{"--issuer", "https://a", "--rules", "r.yaml", "--client-cert-header", "X-SSL-Client-Cert",
			"--trusted-proxies", "10.0.0.0/8, 192.0.2.7"}, poll: 5 * time.Second},
		{name: "certificate header needs trusted proxies", args: []string{"--issuer", "https://a", "--rules", "r.yaml",
			"--client-cert-header", "X-SSL-Client-Cert", "--client-cert-format", "apache"},
			fail: []string{"client-cert-header: ", "nginx or xfcc"}},
		{name: "bad trusted proxy", args: []string{"--issuer", "https://a", "--rules", "r.yaml", "--trusted-proxies", "nope"},
			fail: []string{`trusted-proxies: "nope"`}},
		{name: "feed credentials from env", args: []string{"--issuer", "https://a", "--rules", "r.yaml", "--client-id", "gw"},
			env: []string{"PERMISO_GATEWAY_CLIENT_SECRET=s3cret"}, poll: 5 * time.Second, id: "gw", sec: "s3cret"},
		{name: "client id without secret", args: []string{"--issuer", "https://a", "--rules", "r.yaml", "--client-id", "gw"},
			fail: []string{"client-id and a client secret"}},
		{name: "unreadable secret file", args: []string{"--issuer", "https://a", "--rules", "r.yaml", "--client-id", "gw",
			"--client-secret-file", "/nonexistent/secret"}, fail: []string{"client-secret-file: "}},
		{name: "every problem", args: []string{"--issuer", "ftp://x", "--revocation-poll", "0s", "--addr", "nope"},
			env: []string{"PERMISO_GATEWAY_NOPE=1"},
			fail: []string{"PERMISO_GATEWAY_NOPE: unknown option", `issuer "ftp://x" must be an http(s) URL`, "rules is required",
				"revocation-poll must be at least 1s", `addr "nope"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseGatewayFlags(tc.args, tc.env, io.Discard)
			if len(tc.fail) > 0 {
				for _, f := range tc.fail {
					if err == nil || !strings.Contains(err.Error(), f) {
						t.Errorf("error %v lacks %q", err, f)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.clientID != tc.id || o.clientSecret != tc.sec {
				t.Errorf("credentials %q/%q, want %q/%q", o.clientID, o.clientSecret, tc.id, tc.sec)
			}
			if o.revocationPoll != tc.poll || strings.HasSuffix(o.issuer, "/") {
				t.Errorf("options %+v", o)
			}
			if o.certHeader != "" && (len(o.clientCert.TrustedProxies) != 2 || o.clientCert.TrustedProxies[1].Bits() != 32) {
				t.Errorf("trusted proxies %v", o.clientCert.TrustedProxies)
			}
		})
	}
}
