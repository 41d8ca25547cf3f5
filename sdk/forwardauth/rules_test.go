package forwardauth

import (
	"errors"
	"strings"
	"testing"
)

const testRules = `
# MT5-style trading API behind a gateway.
identity_headers:
  subject: X-User
  client: x-client-id
  scopes: X-Scopes
  token_kind: X-Token-Kind
  actor: X-Actor
rules:
  - name: health
    path: /health
    methods: [GET]
    public: true
  - name: read trades
    path: /api/v1/trades
    methods: [GET]
    audience: https://mt5.example.com
    all_of: [trade:read]
  - name: open trade
    path: /api/v1/trades
    methods: [post]
    audience: https://mt5.example.com
    all_of: [trade:open]
  - name: close trade
    path: /api/v1/trades/{id}
    methods: [DELETE]
    audience: https://mt5.example.com
    any_of: [trade:close, admin:trades]
  - name: admin stats
    path: /api/v1/admin/
    audience: https://mt5.example.com
    all_of: [admin:system]
    trusted: true
  - name: other host
    host: Reports.Example.com
    path: /
    audience: https://reports.example.com
  - name: market
    path: /api/v1/market/{symbol}
    methods: [GET]
    audience: https://mt5.example.com
    all_of: [market:data]
`

func mustParse(t testing.TB, src string) *Table {
	t.Helper()
	tab, err := Parse(strings.NewReader(src), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tab
}

func TestMatch(t *testing.T) {
	tab := mustParse(t, testRules)
	if got := tab.Headers().Client; got != "X-Client-Id" {
		t.Errorf("client header = %q, want the canonical X-Client-Id", got)
	}
	for _, tc := range []struct {
		method, host, path, want string
	}{
		{"GET", "api.example.com", "/health", "health"},
		{"HEAD", "api.example.com", "/health", "health"}, // GET includes HEAD
		{"POST", "api.example.com", "/health", ""},       // method not listed
		{"GET", "api.example.com", "/health/", ""},       // exact path only
		{"GET", "", "/api/v1/trades", "read trades"},
		{"POST", "", "/api/v1/trades", "open trade"},
		{"PUT", "", "/api/v1/trades", ""},
		{"DELETE", "", "/api/v1/trades/42", "close trade"},
		{"DELETE", "", "/api/v1/trades/42/x", ""},
		{"GET", "", "/api/v1/trades/", ""}, // no rule for the subtree
		{"GET", "", "/api/v1/admin/stats", "admin stats"},
		{"PATCH", "", "/api/v1/admin/", "admin stats"},
		{"GET", "", "/api/v1/admin", ""}, // ServeMux would redirect to /admin/: no rule
		{"GET", "reports.example.com", "/any/thing", "other host"},
		{"GET", "REPORTS.example.com:8443", "/any/thing", "other host"},
		{"GET", "reports.example.com", "/health", "other host"}, // the host rule wins
		{"GET", "api.example.com", "/any/thing", ""},
		{"GET", "", "/api/v1/market/EUR USD", "market"},
		{"GET", "", "/api/v1/market/a?b", "market"},
		{"GET", "", "/unknown", ""},
	} {
		r := tab.match(tc.method, tc.host, tc.path)
		got := ""
		if r != nil {
			got = r.Name
		}
		if got != tc.want {
			t.Errorf("match(%s %s %s) = %q, want %q", tc.method, tc.host, tc.path, got, tc.want)
		}
	}
}

func TestParseListsEveryProblem(t *testing.T) {
	src := `
identity_headers:
  subject: "X Bad"
  client: X-Same
  scopes: x-same
  token_kind: Authorization
rules:
  - path: /a
    public: true
    audience: https://x
  - path: b
    audience: https://x
  - path: /c
    all_of: ["bad scope"]
  - path: /d?x=1
    audience: https://x
  - host: "http://h.example/"
    path: /e
    audience: https://x
  - path: /f/{x
    audience: https://x
  - path: /g/{x}
    methods: [GET, "G T", GET]
    audience: https://x
  - path: /same
    audience: https://x
  - name: dup
    path: /same
    audience: https://x
  - path: /a/{x}
    audience: https://x
  - path: /{y}/b
    audience: https://x
`
	_, err := Parse(strings.NewReader(src), "bad.yaml")
	var pe *ProblemsError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse = %v, want a *ProblemsError", err)
	}
	want := []string{
		`identity_headers.subject: "X Bad" is not a header name`,
		`identity_headers: client and scopes both name X-Same`,
		`identity_headers.token_kind: Authorization cannot carry identity`,
		`rules[0] (rule 1): a public rule cannot require`,
		`rules[1] (rule 2): path "b" must start with /`,
		`rules[2] (rule 3): audience is required unless the rule is public`,
		`rules[2] (rule 3): scope "bad scope" is not a scope name`,
		`rules[3] (rule 4): path "/d?x=1" must be a decoded path pattern`,
		`rules[4] (rule 5): host "http://h.example/" is not a host name`,
		`rules[5] (rule 6): pattern "/f/{x": parsing`,
		`rules[6] (rule 7): method "G T" is not an HTTP method`,
		`rules[6] (rule 7): method GET is listed twice`,
		`rules[8] (dup): pattern "/same": rules[7] (rule 8): pattern "/same" conflicts with pattern "/same"`,
		`rules[10] (rule 11): pattern "/{y}/b": rules[9] (rule 10): pattern "/{y}/b" conflicts with pattern "/a/{x}"`,
	}
	if len(pe.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(pe.Problems), len(want), err)
	}
	for i, w := range want {
		if i >= len(pe.Problems) || !strings.HasPrefix(pe.Problems[i], w) {
			t.Errorf("problem %d: want prefix %q\n%s", i, w, err)
		}
	}
	if strings.Contains(err.Error(), "registered at") || strings.Contains(err.Error(), ".go:") {
		t.Errorf("problems point into the source: %s", err)
	}
}

func TestParseRefusesUnknownFieldsAndEmptyFiles(t *testing.T) {
	for name, src := range map[string]string{
		"unknown field": "rules:\n  - path: /a\n    public: true\n    scopes: [x]\n",
		"typo at top":   "rule:\n  - path: /a\n",
		"empty":         "",
		"no rules":      "rules: []\n",
		"not yaml":      "rules: [\n",
		"wrong type":    "rules: {path: /a}\n",
	} {
		t.Run(name, func(t *testing.T) {
			var pe *ProblemsError
			if _, err := Parse(strings.NewReader(src), "x.yaml"); !errors.As(err, &pe) {
				t.Fatalf("Parse = %v, want a *ProblemsError", err)
			}
		})
	}
	// JSON is YAML.
	if _, err := Parse(strings.NewReader(`{"rules":[{"path":"/a","public":true}]}`), "x.json"); err != nil {
		t.Fatalf("JSON rules: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(testRules)
	f.Add(`{"rules":[{"path":"/a/{x...}","methods":["GET"],"audience":"a","any_of":["s"]}]}`)
	f.Fuzz(func(t *testing.T, src string) {
		tab, err := Parse(strings.NewReader(src), "fuzz")
		if err != nil {
			var pe *ProblemsError
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("Parse error %v is not a list of problems", err)
			}
			return
		}
		for _, r := range tab.rules {
			if !r.Public && r.Audience == "" {
				t.Fatalf("rule %s needs no audience", r.where)
			}
		}
		tab.match("GET", "h", "/a/b")
	})
}
