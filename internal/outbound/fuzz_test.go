package outbound

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzCheckURL feeds CheckURL the URLs administrators and clients give
// Permiso. Whatever it accepts is fetchable in form: http(s), a host, no
// userinfo, and never a literal internal address.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "http://127.0.0.1:80/", "https://[::ffff:10.0.0.1]/",
		"https://u@h/", "http://[fe80::1%25en0]/", "https://0x7f.1/", "https://2130706433/", "http://h:99999/", "//h/x"} {
		f.Add(s)
	}
	c := New(Config{})
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := c.CheckURL(raw)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q as %#v", raw, u)
		}
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && Internal(a) != "" {
			t.Fatalf("accepted internal literal %q", raw)
		}
		if _, err := c.CheckURL(u.String()); err != nil {
			t.Fatalf("accepted %q but not its canonical form %q: %v", raw, u.String(), err)
		}
	})
}
