package bench

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func fakeLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	table := map[string][]string{
		"localhost":       {"127.0.0.1", "::1"},
		"example.com":     {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"half.test":       {"127.0.0.1", "10.0.0.1"},
		"mapped.test":     {"::ffff:127.0.0.1"},
		"nothing.test":    {},
		"loopback6.test":  {"::1"},
		"loopback8.test":  {"127.8.9.10"},
		"private-v6.test": {"fd00::1"},
	}
	addrs, ok := table[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"[::1]", true},
		{"::ffff:127.0.0.1", true},
		{"localhost", true},
		{"mapped.test", true},
		{"loopback6.test", true},
		{"loopback8.test", true},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"0.0.0.0", false},
		{"[fd00::1]", false},
		{"example.com", false},
		{"half.test", false},
		{"private-v6.test", false},
		{"nothing.test", false},
		{"unknown.test", false},
		{"", false},
	} {
		err := CheckLoopback(context.Background(), tc.host, fakeLookup)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.host, err, tc.ok)
		}
	}
	// A public address is refused for the right reason.
	if err := CheckLoopback(context.Background(), "10.0.0.1", nil); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("10.0.0.1: %v, want ErrNotLoopback", err)
	}
}

func TestCheckTargetURL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url         string
		allowRemote bool
		ok          bool
	}{
		{"http://127.0.0.1:8000", false, true},
		{"http://[::1]:8000/", false, true},
		{"http://localhost:8000", false, true},
		{"https://example.com", false, false},
		{"https://example.com", true, true},
		{"http://10.0.0.1:8000", false, false},
		{"ftp://127.0.0.1", false, false},
		{"127.0.0.1:8000", false, false},
		{"http://", false, false},
	} {
		_, err := CheckTargetURL(ctx, tc.url, tc.allowRemote, fakeLookup)
		if (err == nil) != tc.ok {
			t.Errorf("%q allowRemote=%v: err = %v, want ok=%v", tc.url, tc.allowRemote, err, tc.ok)
		}
	}
}

// The dialer checks the resolved address before connecting, so nothing is
// ever sent to a non-loopback address (the socket is refused before
// connect is called).
func TestDialerRefusesNonLoopback(t *testing.T) {
	d := newDialer(false)
	for _, addr := range []string{"10.0.0.1:80", "[fd00::1]:80"} {
		_, err := d.DialContext(context.Background(), "tcp", addr)
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: err = %v, want ErrNotLoopback", addr, err)
		}
	}
}
