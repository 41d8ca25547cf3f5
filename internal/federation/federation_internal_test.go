package federation

import (
	"testing"
)

func TestParseSPIFFEID(t *testing.T) {
	for _, tc := range []struct {
		in       string
		td, path string
		ok       bool
	}{
		{"spiffe://example.org/ns/prod/sa/bot", "example.org", "/ns/prod/sa/bot", true},
		{"spiffe://example.org", "example.org", "", true},
		{"spiffe://Example.org/x", "", "", false},
		{"spiffe://example.org/", "", "", false},
		{"spiffe://example.org/a//b", "", "", false},
		{"spiffe://example.org/a/../b", "", "", false},
		{"spiffe://example.org/a?b", "", "", false},
		{"spiffe://example.org:443/a", "", "", false},
		{"spiffe://user@example.org/a", "", "", false},
		{"https://example.org/a", "", "", false},
		{"spiffe:///a", "", "", false},
	} {
		td, path, err := ParseSPIFFEID(tc.in)
		if (err == nil) != tc.ok || td != tc.td || path != tc.path {
			t.Errorf("ParseSPIFFEID(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.in, td, path, err, tc.td, tc.path, tc.ok)
		}
	}
}

func TestSPIFFESubjects(t *testing.T) {
	for _, tc := range []struct {
		subject string
		ok      bool
	}{
		{"spiffe://example.org/trading/bot", true},
		{"spiffe://example.org/trading/*", true},
		{"spiffe://example.org/*", true},
		{"spiffe://example.org", false},
		{"spiffe://other.org/trading/bot", false},
		{"spiffe://example.org/trading*", false},
	} {
		if err := CheckSPIFFESubject(tc.subject, "example.org"); (err == nil) != tc.ok {
			t.Errorf("CheckSPIFFESubject(%q) = %v, want ok=%v", tc.subject, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		subject, id string
		want        bool
	}{
		{"spiffe://td/a/*", "spiffe://td/a/b", true},
		{"spiffe://td/a/*", "spiffe://td/a/b/c", true},
		{"spiffe://td/a/*", "spiffe://td/ab", false},
		{"spiffe://td/a/*", "spiffe://td/a/", false},
		{"spiffe://td/a/*", "spiffe://td/a", false},
		{"spiffe://td/a", "spiffe://td/a", true},
		{"spiffe://td/a", "spiffe://td/a/b", false},
	} {
		if got := spiffeMatch(tc.subject, tc.id); got != tc.want {
			t.Errorf("spiffeMatch(%q, %q) = %v, want %v", tc.subject, tc.id, got, tc.want)
		}
	}
}

func TestConditions(t *testing.T) {
	k8s := []byte(`{"iss":"https://k8s","sub":"system:serviceaccount:trading:bot","aud":["permiso"],
		"kubernetes.io":{"namespace":"trading","serviceaccount":{"name":"bot","uid":"u1"},"pod":{"name":"bot-7d9"}},
		"repository":"acme/trading","ref":"refs/heads/main","run_attempt":2,"admin":false,"groups":["a","b"]}`)
	for _, tc := range []struct {
		cond map[string][]string
		fail string
	}{
		{nil, ""},
		{map[string][]string{"kubernetes.io.namespace": {"trading"}}, ""},
		{map[string][]string{"kubernetes.io.namespace": {"trading"}, "kubernetes.io.serviceaccount.name": {"bot", "bot2"}}, ""},
		{map[string][]string{"kubernetes.io.namespace": {"default"}}, "kubernetes.io.namespace"},
		{map[string][]string{"kubernetes.io.serviceaccount": {"bot"}}, "kubernetes.io.serviceaccount"}, // an object is no value
		{map[string][]string{"repository": {"acme/trading"}, "ref": {"refs/heads/main"}}, ""},
		{map[string][]string{"ref": {"refs/heads/dev"}}, "ref"},
		{map[string][]string{"run_attempt": {"2"}, "admin": {"false"}}, ""},
		{map[string][]string{"groups": {"b"}}, ""},
		{map[string][]string{"missing.claim": {"x"}}, "missing.claim"},
		{map[string][]string{"kubernetes": {"x"}}, "kubernetes"},
	} {
		got, err := meets(k8s, tc.cond)
		if err != nil || got != tc.fail {
			t.Errorf("meets(%v) = %q, %v; want %q", tc.cond, got, err, tc.fail)
		}
	}
	for _, bad := range []map[string][]string{
		{"": {"x"}}, {".a": {"x"}}, {"a.": {"x"}}, {"a..b": {"x"}}, {"a": {}}, {"a": {""}},
	} {
		if err := CheckConditions(bad); err == nil {
			t.Errorf("CheckConditions(%v) accepted", bad)
		}
	}
	if err := CheckConditions(map[string][]string{"kubernetes.io.namespace": {"trading"}}); err != nil {
		t.Fatal(err)
	}
}
