package server_test

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestAllowedIPs checks a client's allowed_ips at the token endpoint for
// addresses and CIDRs of both families, with X-Forwarded-For believed only
// from a trusted proxy.
func TestAllowedIPs(t *testing.T) {
	proxied := newTestServer(t, func(c serverConfig) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	direct := newTestServer(t, nil)
	tests := []struct {
		name    string
		ts      *testServer
		allowed []string
		xff     string
		ok      bool
	}{
		{"IPv4 address matches the peer", direct, []string{"127.0.0.1"}, "", true},
		{"IPv4 CIDR holds the peer", direct, []string{"10.0.0.0/8", "127.0.0.0/8"}, "", true},
		{"IPv4 CIDR without the peer", direct, []string{"10.0.0.0/8"}, "", false},
		{"untrusted peer cannot claim an allowed address", direct, []string{"10.0.0.0/8"}, "10.1.2.3", false},
		{"trusted proxy: IPv4 in CIDR", proxied, []string{"10.0.0.0/8"}, "10.1.2.3", true},
		{"trusted proxy: IPv4 outside CIDR", proxied, []string{"10.0.0.0/8"}, "11.1.2.3", false},
		{"trusted proxy: IPv4 exact", proxied, []string{"192.0.2.10"}, "192.0.2.10", true},
		{"trusted proxy: IPv6 exact", proxied, []string{"2001:db8::5"}, "2001:db8::5", true},
		{"trusted proxy: IPv6 in CIDR", proxied, []string{"2001:db8::/32"}, "2001:db8:ffff::1", true},
		{"trusted proxy: IPv6 outside CIDR", proxied, []string{"2001:db8::/32"}, "2001:db9::1", false},
		{"trusted proxy: IPv4 client, IPv6 list", proxied, []string{"2001:db8::/32"}, "192.0.2.10", false},
		{"trusted proxy: rightmost untrusted hop wins", proxied, []string{"10.0.0.0/8"}, "10.9.9.9, 203.0.113.7", false},
		{"trusted proxy: spoofed leftmost hop ignored", proxied, []string{"203.0.113.0/24"}, "10.9.9.9, 203.0.113.7", true},
		{"wildcard", proxied, []string{"*"}, "198.51.100.1", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret := tt.ts.createClient(map[string]any{"name": "Fenced", "client_id": "fenced-" + string(rune('a'+i)),
				"scope_ids": []string{"trade:read"}, "allowed_ips": tt.allowed})
			r := tt.ts.tokenFrom(id, secret, tt.xff)
			if tt.ok {
				if r.Status != 200 {
					t.Fatalf("want a token, got %d %s", r.Status, r.Body)
				}
				return
			}
			if r.Status != 401 || r.str("error") != wire.ErrInvalidClient || r.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("want 401 invalid_client with WWW-Authenticate, got %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestAllowedIPsOverIPv6 runs a server on the IPv6 loopback, so the peer
// address itself is IPv6.
func TestAllowedIPsOverIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := startReplica(t, func() server.Config {
		c := replicaConfig(t, filepath.Join(t.TempDir(), "data"))
		c.Addr, c.Issuer = addr, "http://"+addr
		return c
	}())
	ts := r.ts()
	for _, tt := range []struct {
		allowed []string
		ok      bool
	}{{[]string{"::1"}, true}, {[]string{"::/127"}, true}, {[]string{"127.0.0.1"}, false}, {[]string{"2001:db8::/32"}, false}} {
		id, secret := ts.createClient(map[string]any{"name": "Six", "scope_ids": []string{"trade:read"}, "allowed_ips": tt.allowed})
		if got := ts.tokenFrom(id, secret, "").Status; (got == 200) != tt.ok {
			t.Errorf("allowed_ips %v from ::1: status %d, want ok=%v", tt.allowed, got, tt.ok)
		}
	}
}
