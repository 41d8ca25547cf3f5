package outbound

import (
	"errors"
	"net/netip"
	"testing"
)

func TestInternal(t *testing.T) {
	tests := []struct {
		addr, want string // want "" = public
	}{
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.0.0.1", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"fd00::1", "private"},
		{"::ffff:10.1.2.3", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"fe80::1", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"::", "unspecified"},
		{"0.1.2.3", "this network"},
		{"224.0.0.1", "link-local"},
		{"239.1.2.3", "multicast"},
		{"ff02::1", "link-local"},
		{"ff05::2", "multicast"},
		{"ff01::1", "multicast"},
		{"100.64.0.1", "shared address space (CGNAT)"},
		{"100.127.255.255", "shared address space (CGNAT)"},
		{"100.128.0.1", ""},
		{"192.0.0.8", "IETF protocol assignment"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.255", "reserved"},
		{"2001:db8::1", "documentation"},
		{"2001::1", "IETF protocol assignment"}, // Teredo
		{"100::1", "discard-only"},
		{"fec0::1", "site-local (deprecated)"},
		{"::127.0.0.1", "IPv4-compatible (deprecated)"},
		{"64:ff9b::7f00:1", "loopback (embedded in IPv6)"},      // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", "link-local (embedded in IPv6)"}, // NAT64 of 169.254.169.254
		{"64:ff9b::808:808", ""},                                // NAT64 of 8.8.8.8
		{"64:ff9b:1::1", "local-use NAT64"},
		{"2002:c0a8:0101::1", "private (embedded in IPv6)"}, // 6to4 of 192.168.1.1
		{"2002:0808:0808::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := Internal(netip.MustParseAddr(tt.addr)); got != tt.want {
				t.Errorf("Internal(%s) = %q, want %q", tt.addr, got, tt.want)
			}
		})
	}
	if got := Internal(netip.Addr{}); got != "invalid" {
		t.Errorf("zero Addr: %q", got)
	}
}

func TestCheckAllow(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("127.0.0.1/32")}
	tests := []struct {
		addr string
		ok   bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.1.2.3", true}, // mapped forms match the IPv4 prefix
		{"10.2.0.1", false},
		{"127.0.0.1", true},
		{"127.0.0.2", false},
		{"8.8.8.8", true},
	}
	for _, tt := range tests {
		err := check(netip.MustParseAddr(tt.addr), allow)
		if (err == nil) != tt.ok {
			t.Errorf("check(%s) = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		var be *BlockedError
		if err != nil && (!errors.Is(err, ErrBlocked) || !errors.As(err, &be) || be.Reason == "") {
			t.Errorf("check(%s): %v is not a BlockedError", tt.addr, err)
		}
	}
}
