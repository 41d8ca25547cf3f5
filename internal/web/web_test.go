package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestIPResolver(t *testing.T) {
	p := IPResolver{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct", "203.0.113.9:1234", "", "203.0.113.9"},
		{"untrusted peer ignores XFF", "203.0.113.9:1234", "1.2.3.4", "203.0.113.9"},
		{"trusted proxy", "10.0.0.5:1234", "198.51.100.7", "198.51.100.7"},
		{"rightmost untrusted wins", "10.0.0.5:1", "6.6.6.6, 198.51.100.7, 10.0.0.9", "198.51.100.7"},
		{"garbage XFF falls back to peer", "10.0.0.5:1", "not-an-ip", "10.0.0.5"},
		{"ipv6 peer", "[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := p.Resolve(r); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestHandleHidesInternalErrors(t *testing.T) {
	h := Handle(nil, func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("pq: relation \"secrets\" does not exist")
	})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secrets") || !strings.Contains(w.Body.String(), "server_error") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

func TestHandleKeepsHeaders(t *testing.T) {
	h := Handle(nil, func(w http.ResponseWriter, r *http.Request) error { return TooManyRequests(7) })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 429 || w.Header().Get("Retry-After") != "7" || !strings.Contains(w.Body.String(), `"retry_after":7`) {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body)
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body, ctype string
		status            int
		msg               string
	}{
		{"ok", `{"name":"x"}`, "application/json", 0, ""},
		{"unknown field", `{"nam":"x"}`, "application/json", 422, "Unknown field"},
		{"wrong type", `{"name":5}`, "application/json", 422, `"name"`},
		{"syntax", `{"name":`, "application/json", 422, "truncated"},
		{"empty", ``, "application/json", 422, "required"},
		{"two objects", `{"name":"a"}{"name":"b"}`, "application/json", 422, "single"},
		{"form", `name=x`, "application/x-www-form-urlencoded", 415, "application/json"},
		{"too big", `{"name":"` + strings.Repeat("a", MaxJSONBytes) + `"}`, "application/json", 413, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			var v struct {
				Name string `json:"name"`
			}
			err := DecodeJSON(httptest.NewRecorder(), r, &v)
			if tt.status == 0 {
				if err != nil || v.Name != "x" {
					t.Fatalf("%v %+v", err, v)
				}
				return
			}
			e, ok := AsError(err)
			if !ok || e.Status != tt.status || !strings.Contains(e.Description, tt.msg) {
				t.Fatalf("got %#v", err)
			}
		})
	}
}

func TestPlainText(t *testing.T) {
	for _, tt := range []struct {
		s        string
		newlines bool
		want     bool
	}{
		{"trade:read", false, true},
		{"héllo", false, true},
		{"a\x00b", false, false},
		{"a\nb", false, false},
		{"a\nb\tc", true, true},
		{"\xff", true, false},
		{"del\x7f", true, false},
	} {
		if got := PlainText(tt.s, tt.newlines); got != tt.want {
			t.Errorf("PlainText(%q, %v) = %v", tt.s, tt.newlines, got)
		}
	}
}
