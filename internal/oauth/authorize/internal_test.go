package authorize

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestVerifierMatches checks against x/oauth2's independent S256 and the
// verifier bounds of RFC 7636 §4.1.
func TestVerifierMatches(t *testing.T) {
	verifier := oauth2.GenerateVerifier()[:43]
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	flipped := verifier[:42] + "a"
	if verifier[42] == 'a' {
		flipped = verifier[:42] + "b"
	}
	long := strings.Repeat("a-._~", 25) + "abc" // 128 characters
	tests := []struct {
		name, verifier string
		want           bool
	}{
		{"43 chars", verifier, true},
		{"one char off", flipped, false},
		{"42 chars", verifier[:42], false},
		{"129 chars", strings.Repeat("a", 129), false},
		{"reserved char", verifier[:42] + "+", false},
		{"challenge as verifier", challenge, false},
	}
	for _, tt := range tests {
		if got := verifierMatches(tt.verifier, challenge); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
	if !verifierMatches(long, oauth2.S256ChallengeFromVerifier(long)) || verifierMatches(long+"a", oauth2.S256ChallengeFromVerifier(long+"a")) {
		t.Error("the 128-character bound is wrong")
	}
}

func TestResponseURLKeepsQuery(t *testing.T) {
	got := responseURL("https://app.example/cb?a=1&b=x%20y", url.Values{"code": {"c"}, "state": {"s&t"}})
	u, _ := url.Parse(got)
	q := u.Query()
	if q.Get("a") != "1" || q.Get("b") != "x y" || q.Get("code") != "c" || q.Get("state") != "s&t" || u.Path != "/cb" {
		t.Errorf("responseURL = %s", got)
	}
}

func TestCSPSource(t *testing.T) {
	tests := map[string]string{
		"http://127.0.0.1:8080/cb?x=1": "http://127.0.0.1:8080",
		"https://app.example/cb":       "https://app.example",
		"com.example.app:/oauth":       "com.example.app:",
		"https://a;b.example/":         "",
		"not a uri":                    "",
	}
	for in, want := range tests {
		if got := cspSource(in); got != want {
			t.Errorf("cspSource(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPendingSeal(t *testing.T) {
	s := signer{key: []byte(strings.Repeat("k", 32))}
	now := time.Unix(1_000_000, 0)
	sealed, err := s.sealPending(pending{Params: authParams{ClientID: "spa", State: "s"}, Expires: now.Unix() + 60}, "cookie-a")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.openPending(sealed, "cookie-a", now); err != nil || p.Params.ClientID != "spa" {
		t.Errorf("open: %+v %v", p, err)
	}
	if _, err := s.openPending(sealed, "cookie-b", now); err == nil {
		t.Error("opened with another browser's cookie")
	}
	if _, err := s.openPending(sealed, "cookie-a", now.Add(time.Minute)); err != errExpiredForm {
		t.Errorf("expired: %v", err)
	}
	other := signer{key: []byte(strings.Repeat("x", 32))}
	if _, err := other.openPending(sealed, "cookie-a", now); err == nil {
		t.Error("opened with another key")
	}
	if s.checkCSRF("cookie-a", s.csrfToken("cookie-b")) || !s.checkCSRF("cookie-a", s.csrfToken("cookie-a")) {
		t.Error("CSRF token not bound to its cookie")
	}
}
