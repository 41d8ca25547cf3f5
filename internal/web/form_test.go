package web

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// TestParseFormRepeats: a parameter given twice is refused (RFC 6749
// §3.1), except resource, which RFC 8707 §2 repeats to name several
// resources.
func TestParseFormRepeats(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{"grant_type=client_credentials&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example", true},
		{"grant_type=client_credentials&grant_type=password", false},
		{"scope=a&scope=b", false},
	} {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := ParseForm(httptest.NewRecorder(), r)
		if (err == nil) != tc.ok {
			t.Fatalf("%s: err %v", tc.body, err)
		}
		if tc.ok && !slices.Equal(form["resource"], []string{"https://a.example", "https://b.example"}) {
			t.Fatalf("resources %v", form["resource"])
		}
	}
}
