package oauth

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
)

func TestGrantScopes(t *testing.T) {
	held := []string{"a", "b", "c"}
	tests := []struct {
		name      string
		requested []string
		want      []string
		err       string
	}{
		{"none requested: all", nil, []string{"a", "b", "c"}, ""},
		{"empty scope parameter: none", []string{}, []string{}, ""},
		{"subset", []string{"b"}, []string{"b"}, ""},
		{"duplicates collapse", []string{"b", "b"}, []string{"b"}, ""},
		{"one not held", []string{"a", "z"}, nil, "invalid_scope"},
		{"case matters", []string{"A"}, nil, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GrantScopes(held, tt.requested)
			if tt.err != "" {
				e, ok := web.AsError(err)
				if !ok || e.Code != tt.err {
					t.Fatalf("err %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("got %v %v, want %v", got, err, tt.want)
			}
		})
	}
}

func TestIPAllowed(t *testing.T) {
	tests := []struct {
		entry, addr string
		want        bool
	}{
		{"10.0.0.0/8", "10.1.2.3", true},
		{"10.0.0.0/8", "11.1.2.3", false},
		{"192.168.1.5", "192.168.1.5", true},
		{"192.168.1.5", "192.168.1.6", false},
		{"2001:db8::/32", "2001:db8::1", true},
		{"2001:db8::/32", "2001:db9::1", false},
		{"::1", "::1", true},
		{"*", "8.8.8.8", true},
		{"garbage", "8.8.8.8", false},
		{"10.0.0.1/99", "10.0.0.1", false},
	}
	for _, tt := range tests {
		if got := IPAllowed(tt.entry, netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("IPAllowed(%q, %s) = %v", tt.entry, tt.addr, got)
		}
	}
	c := &store.Client{AllowedIPs: []string{"10.0.0.0/8"}}
	if checkIP(c, "::ffff:10.0.0.1") != nil {
		t.Error("an IPv4-mapped address must match its IPv4 rule")
	}
	if checkIP(c, "127.0.0.1") == nil {
		t.Error("an address outside the list passed")
	}
	if checkIP(&store.Client{}, "1.2.3.4") != nil {
		t.Error("an empty list must allow any address")
	}
}
