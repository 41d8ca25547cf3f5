package forwardauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/permiso-auth/permiso/sdk/guard"
)

// File is a route rules file (YAML, or JSON, which YAML includes). See
// docs/gateways.md for the format.
type File struct {
	// NormalizePaths makes the decision remove dot segments and merge
	// empty segments instead of refusing them (see [CleanPath]).
	NormalizePaths bool `yaml:"normalize_paths"`
	// Headers names the identity headers of an allowed request.
	Headers Headers `yaml:"identity_headers"`
	// Rules map requests to what they require.
	Rules []Rule `yaml:"rules"`
}

// Rule says what requests to a host, path pattern and methods require.
type Rule struct {
	// Name identifies the rule in logs; empty means its position.
	Name string `yaml:"name"`
	// Host is the request host the rule applies to (no port); empty means
	// any host. A rule for a host wins over one for any host.
	Host string `yaml:"host"`
	// Path is a pattern in Go's net/http ServeMux syntax: "/trades/" (the
	// subtree), "/trades/{id}", "/files/{rest...}", "/exact/{$}".
	Path string `yaml:"path"`
	// Methods the rule applies to; empty means every method. GET includes
	// HEAD, as in ServeMux.
	Methods []string `yaml:"methods"`
	// Public lets requests through without a token.
	Public bool `yaml:"public"`
	// Audience is required in the token's aud unless the rule is public.
	Audience string `yaml:"audience"`
	// AllOf and AnyOf are the required scopes: every one of AllOf and, when
	// AnyOf is not empty, at least one of AnyOf (with Permiso's
	// implied-scope rule).
	AllOf []string `yaml:"all_of"`
	AnyOf []string `yaml:"any_of"`
	// Trusted requires a token of a trusted client (is_trusted).
	Trusted bool `yaml:"trusted"`
}

// Headers are the names of the identity headers set on an allowed request.
// An empty name leaves that header out.
type Headers struct {
	Subject   string `yaml:"subject"`
	Client    string `yaml:"client"`
	Scopes    string `yaml:"scopes"`
	TokenKind string `yaml:"token_kind"`
	Actor     string `yaml:"actor"`
	Username  string `yaml:"username"`
	TokenID   string `yaml:"token_id"`
}

// DefaultHeaders are the identity header names used when a rules file names
// none.
var DefaultHeaders = Headers{
	Subject:   "X-Auth-Subject",
	Client:    "X-Auth-Client-Id",
	Scopes:    "X-Auth-Scopes",
	TokenKind: "X-Auth-Token-Kind",
	Actor:     "X-Auth-Actor",
	Username:  "X-Auth-Username",
	TokenID:   "X-Auth-Token-Id",
}

// Names returns the canonical header names in use, in a fixed order.
func (h Headers) Names() []string {
	var out []string
	for _, n := range []string{h.Subject, h.Client, h.Scopes, h.TokenKind, h.Actor, h.Username, h.TokenID} {
		if n != "" {
			out = append(out, http.CanonicalHeaderKey(n))
		}
	}
	return out
}

var (
	scopePattern  = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)
	tokenPattern  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	hostPattern   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	maxRulesBytes = int64(4 << 20)
)

// ProblemsError lists every problem of a rules file.
type ProblemsError struct {
	Source   string
	Problems []string
}

func (e *ProblemsError) Error() string {
	return fmt.Sprintf("rules %s: %d problem(s):\n  - %s", e.Source, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// Parse reads and validates a rules file; source names it in errors. The
// error is a [*ProblemsError] listing every problem found.
func Parse(r io.Reader, source string) (*Table, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxRulesBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read rules %s: %w", source, err)
	}
	if int64(len(b)) > maxRulesBytes {
		return nil, &ProblemsError{Source: source, Problems: []string{fmt.Sprintf("larger than %d bytes", maxRulesBytes)}}
	}
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ProblemsError{Source: source, Problems: yamlProblems(err)}
	}
	return Compile(&f, source)
}

// yamlProblems splits a YAML decoding error into its lines.
func yamlProblems(err error) []string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return te.Errors
	}
	return []string{err.Error()}
}

// Compile validates f and builds its matching table, listing every problem
// in a [*ProblemsError].
func Compile(f *File, source string) (*Table, error) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	h := f.Headers
	if h == (Headers{}) {
		h = DefaultHeaders
	}
	seen := map[string]string{}
	for _, hf := range []struct{ field, name string }{{"subject", h.Subject}, {"client", h.Client},
		{"scopes", h.Scopes}, {"token_kind", h.TokenKind}, {"actor", h.Actor}, {"username", h.Username},
		{"token_id", h.TokenID}} {
		field, n := hf.field, hf.name
		if n == "" {
			continue
		}
		if !tokenPattern.MatchString(n) {
			add("identity_headers.%s: %q is not a header name", field, n)
			continue
		}
		c := http.CanonicalHeaderKey(n)
		if other, dup := seen[c]; dup {
			add("identity_headers: %s and %s both name %s", other, field, c)
		}
		seen[c] = field
		switch c {
		case "Authorization", "Cookie", "Host", "Content-Length", "Transfer-Encoding", "Connection":
			add("identity_headers.%s: %s cannot carry identity", field, c)
		}
	}
	for _, p := range []*string{&h.Subject, &h.Client, &h.Scopes, &h.TokenKind, &h.Actor, &h.Username, &h.TokenID} {
		*p = http.CanonicalHeaderKey(*p)
	}
	if len(f.Rules) == 0 {
		add("no rules: every request would be refused")
	}
	t := &Table{mux: http.NewServeMux(), normalize: f.NormalizePaths, headers: h, headerNames: h.Names()}
	patterns := map[string]string{} // registered pattern -> rule
	for i := range f.Rules {
		r := f.Rules[i]
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d", i+1)
		}
		where := fmt.Sprintf("rules[%d] (%s)", i, r.Name)
		ps := validateRule(&r, func(format string, args ...any) { add(where+": "+format, args...) })
		if !ps {
			continue
		}
		cr := &compiled{Rule: r, where: where}
		if len(r.AllOf) > 0 {
			cr.reqs = append(cr.reqs, guard.AllOf(r.AllOf...))
		}
		if len(r.AnyOf) > 0 {
			cr.reqs = append(cr.reqs, guard.AnyOf(r.AnyOf...))
		}
		if r.Trusted {
			cr.reqs = append(cr.reqs, guard.Trusted())
		}
		cr.realm = r.Audience
		methods := r.Methods
		if len(methods) == 0 {
			methods = []string{""}
		}
		for _, m := range methods {
			pattern := strings.TrimSpace(m + " " + r.Host + r.Path)
			if err := register(t.mux, pattern, cr, patterns); err != nil {
				add("%s: pattern %q: %v", where, pattern, err)
			}
		}
		t.rules = append(t.rules, cr)
	}
	if len(problems) > 0 {
		return nil, &ProblemsError{Source: source, Problems: problems}
	}
	return t, nil
}

// validateRule checks and canonicalizes r, reporting problems with add. It
// reports whether r can be registered.
func validateRule(r *Rule, add func(string, ...any)) bool {
	ok := true
	bad := func(format string, args ...any) { add(format, args...); ok = false }
	r.Host = strings.ToLower(strings.TrimSpace(r.Host))
	if r.Host != "" && !hostPattern.MatchString(r.Host) {
		bad("host %q is not a host name (no scheme, port or path)", r.Host)
	}
	switch {
	case r.Path == "":
		bad("path is required")
	case r.Path[0] != '/':
		bad("path %q must start with /", r.Path)
	case strings.ContainsAny(r.Path, " \t?#%\\"):
		bad("path %q must be a decoded path pattern without spaces, query, fragment or escapes", r.Path)
	}
	for i, m := range r.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !tokenPattern.MatchString(m) {
			bad("method %q is not an HTTP method", r.Methods[i])
		}
		r.Methods[i] = m
	}
	if dup := duplicate(r.Methods); dup != "" {
		bad("method %s is listed twice", dup)
	}
	if r.Public {
		if r.Audience != "" || len(r.AllOf) > 0 || len(r.AnyOf) > 0 || r.Trusted {
			add("a public rule cannot require an audience, scopes or a trusted client")
		}
		return ok
	}
	if r.Audience == "" {
		add("audience is required unless the rule is public")
	}
	for _, s := range append(slices.Clone(r.AllOf), r.AnyOf...) {
		if !scopePattern.MatchString(s) {
			add("scope %q is not a scope name (letters, digits and _ . : -)", s)
		}
	}
	return ok
}

func duplicate(l []string) string {
	seen := map[string]bool{}
	for _, s := range l {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

var registeredAt = regexp.MustCompile(`\s*\(registered at [^)]*\)`)

// register adds pattern to mux, turning ServeMux's panics on an invalid or
// conflicting pattern into errors that name the earlier rule.
func register(mux *http.ServeMux, pattern string, r *compiled, earlier map[string]string) (err error) {
	defer func() {
		p := recover()
		if p == nil {
			earlier[pattern] = r.where
			return
		}
		msg := registeredAt.ReplaceAllString(fmt.Sprint(p), "")
		msg = strings.ReplaceAll(msg, "\n", " ")
		for other, where := range earlier {
			if strings.Contains(msg, "conflicts with pattern "+strconv.Quote(other)) {
				msg = where + ": " + msg
				break
			}
		}
		err = errors.New(msg)
	}()
	mux.Handle(pattern, r)
	return nil
}
