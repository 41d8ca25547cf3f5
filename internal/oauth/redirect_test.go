package oauth_test

import (
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/oauth"
)

func TestRedirectURIProblem(t *testing.T) {
	tests := []struct {
		uri  string
		want string // a fragment of the problem; "" when allowed
	}{
		{"https://app.example.com/cb", ""},
		{"https://app.example.com:8443/cb?x=1", ""},
		{"http://127.0.0.1/cb", ""},
		{"http://127.8.9.10:9000/cb", ""},
		{"http://[::1]:8080/cb", ""},
		{"http://localhost:3000/", ""},
		{"http://trading.localhost:8080/", ""},
		{"com.example.app:/oauth2redirect", ""},
		{"com.example.app://callback", ""},
		{"http://app.example.com/cb", "must use https"},
		{"http://10.0.0.1/cb", "must use https"},
		{"http://[::ffff:10.0.0.1]/cb", "must use https"},
		{"http://localhost.example.com/cb", "must use https"},
		{"javascript:alert(1)", "private-use scheme"},
		{"JavaScript:alert(1)", "private-use scheme"},
		{"data:text/html,<script>alert(1)</script>", "private-use scheme"},
		{"file:///etc/passwd", "private-use scheme"},
		{"vbscript:msgbox(1)", "private-use scheme"},
		{"blob:https://app.example.com/uuid", "private-use scheme"},
		{"myapp:/cb", "private-use scheme"},
		{"com..app:/cb", "private-use scheme"},
		{".app:/cb", "absolute"},
		{"https:no-host", "must name a host"},
		{"http:///cb", "must name a host"},
		{"https://app.example.com/cb#frag", "fragment"},
		{"/relative", "absolute"},
		{"%zz", "absolute"},
	}
	for _, tt := range tests {
		got := oauth.RedirectURIProblem(tt.uri)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("RedirectURIProblem(%q) = %q, want %q", tt.uri, got, tt.want)
		}
	}
}

func TestMatchRedirectURI(t *testing.T) {
	registered := []string{"https://app.example.com/cb", "http://127.0.0.1/cb", "http://[::1]:8080/native", "http://localhost/dev?x=1"}
	tests := []struct {
		requested string
		want      bool
	}{
		{"https://app.example.com/cb", true},
		{"https://app.example.com:443/cb", false}, // exact, no normalisation
		{"https://app.example.com/cb/", false},
		{"http://127.0.0.1/cb", true},
		{"http://127.0.0.1:53124/cb", true}, // any port on loopback (RFC 8252 §7.3)
		{"http://127.0.0.1:53124/other", false},
		{"http://127.0.0.1:53124/cb?x=1", false},
		{"http://127.0.0.2:53124/cb", false}, // another host
		{"http://[::1]:1/native", true},
		{"http://[::1]/native", true},
		{"http://localhost:4000/dev?x=1", true},
		{"http://user@127.0.0.1:53124/cb", false},
		{"http://127.0.0.1:53124/cb#x", false},
		{"http://127.0.0.1:5x/cb", false},
		{"https://127.0.0.1:53124/cb", false},
		{"http://evil.example.com:53124/cb", false},
	}
	for _, tt := range tests {
		if got := oauth.MatchRedirectURI(registered, tt.requested); got != tt.want {
			t.Errorf("MatchRedirectURI(%q) = %v, want %v", tt.requested, got, tt.want)
		}
	}
}

// FuzzRedirectURI: the rule and the matcher take any input without
// panicking, and a URI the rule allows always matches itself.
func FuzzRedirectURI(f *testing.F) {
	for _, s := range []string{"https://a.example/cb", "http://127.0.0.1:1/cb", "com.example.app:/cb", "javascript:x", "http://[::1]/", "%", "http://[::1"} {
		f.Add(s, "http://127.0.0.1:9/cb")
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		if oauth.RedirectURIProblem(registered) == "" && !oauth.MatchRedirectURI([]string{registered}, registered) {
			t.Fatalf("an allowed URI does not match itself: %q", registered)
		}
		if oauth.MatchRedirectURI([]string{registered}, requested) && requested != registered &&
			oauth.RedirectURIProblem(registered) == "" && !strings.HasPrefix(requested, "http://") {
			t.Fatalf("%q matched %q other than exactly or as a loopback port", requested, registered)
		}
	})
}
