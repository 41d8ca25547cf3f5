package forwardauth

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		target    string
		strict    string // want in strict mode; "" with err
		strictErr error
		norm      string // want with normalize
		normErr   error
	}{
		{target: "/", strict: "/", norm: "/"},
		{target: "/api/v1/trades", strict: "/api/v1/trades", norm: "/api/v1/trades"},
		{target: "/api/v1/trades/", strict: "/api/v1/trades/", norm: "/api/v1/trades/"},
		// The query never takes part, whatever it holds.
		{target: "/public?next=/admin", strict: "/public", norm: "/public"},
		{target: "/public?x=/../admin", strict: "/public", norm: "/public"},
		{target: "/public#/admin", strict: "/public", norm: "/public"},
		// Encoded ? and # are part of the path, as for the upstream.
		{target: "/files/a%3Fb", strict: "/files/a?b", norm: "/files/a?b"},
		{target: "/files/a%23b", strict: "/files/a#b", norm: "/files/a#b"},
		{target: "/files/%61dmin", strict: "/files/admin", norm: "/files/admin"},
		{target: "/%41PI", strict: "/API", norm: "/API"},
		{target: "/a%20b", strict: "/a b", norm: "/a b"},
		{target: "/a%25b", strict: "/a%b", norm: "/a%b"},
		{target: "/caf%C3%A9", strict: "/café", norm: "/café"},
		// Dot segments, literal or encoded.
		{target: "/public/../admin", strictErr: ErrNotNormal, norm: "/admin"},
		{target: "/public/%2e%2e/admin", strictErr: ErrNotNormal, norm: "/admin"},
		{target: "/public/%2E%2E/admin", strictErr: ErrNotNormal, norm: "/admin"},
		{target: "/public/.%2e/admin", strictErr: ErrNotNormal, norm: "/admin"},
		{target: "/public/./x", strictErr: ErrNotNormal, norm: "/public/x"},
		{target: "/public/%2e/x", strictErr: ErrNotNormal, norm: "/public/x"},
		{target: "/a/b/..", strictErr: ErrNotNormal, norm: "/a/"},
		{target: "/a/.", strictErr: ErrNotNormal, norm: "/a/"},
		{target: "/..", strictErr: ErrNotNormal, normErr: ErrAboveRoot},
		{target: "/a/../../etc/passwd", strictErr: ErrNotNormal, normErr: ErrAboveRoot},
		{target: "/..%2fadmin", strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		// Dots inside a segment are data.
		{target: "/a/..b/.c/d..", strict: "/a/..b/.c/d..", norm: "/a/..b/.c/d.."},
		{target: "/a/...", strict: "/a/...", norm: "/a/..."},
		// Empty segments.
		{target: "//admin", strictErr: ErrNotNormal, norm: "/admin"},
		{target: "/public//admin", strictErr: ErrNotNormal, norm: "/public/admin"},
		{target: "/a//", strictErr: ErrNotNormal, norm: "/a/"},
		// Encoded slashes and backslashes: separators for some upstreams,
		// data for others.
		{target: "/public/..%2Fadmin", strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		{target: "/files/a%2fb", strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		{target: "/files/a%5Cb", strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		{target: `/files/a\b`, strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		{target: `/public\..\admin`, strictErr: ErrEncodedSlash, normErr: ErrEncodedSlash},
		// Bad encodings and control characters.
		{target: "/a%2", strictErr: ErrBadEncoding, normErr: ErrBadEncoding},
		{target: "/a%", strictErr: ErrBadEncoding, normErr: ErrBadEncoding},
		{target: "/a%zz", strictErr: ErrBadEncoding, normErr: ErrBadEncoding},
		{target: "/a%00", strictErr: ErrControlChar, normErr: ErrControlChar},
		{target: "/a%0d%0aX-Auth-Subject:%20root", strictErr: ErrControlChar, normErr: ErrControlChar},
		{target: "/a b", strictErr: ErrControlChar, normErr: ErrControlChar},
		{target: "/a\tb", strictErr: ErrControlChar, normErr: ErrControlChar},
		{target: "/a%7f", strictErr: ErrControlChar, normErr: ErrControlChar},
		// Not origin-form.
		{target: "", strictErr: ErrBadPath, normErr: ErrBadPath},
		{target: "?x=1", strictErr: ErrBadPath, normErr: ErrBadPath},
		{target: "admin", strictErr: ErrBadPath, normErr: ErrBadPath},
		{target: "http://evil/admin", strictErr: ErrBadPath, normErr: ErrBadPath},
		{target: "*", strictErr: ErrBadPath, normErr: ErrBadPath},
		{target: "/" + strings.Repeat("a", maxPathBytes), strictErr: ErrPathTooLong, normErr: ErrPathTooLong},
	} {
		for _, mode := range []struct {
			normalize bool
			want      string
			err       error
		}{{false, tc.strict, tc.strictErr}, {true, tc.norm, tc.normErr}} {
			got, err := CleanPath(tc.target, mode.normalize)
			if got != mode.want || !errors.Is(err, mode.err) {
				t.Errorf("CleanPath(%q, normalize=%v) = %q, %v; want %q, %v", tc.target, mode.normalize, got, err, mode.want, mode.err)
			}
		}
	}
}

// FuzzCleanPath checks that a cleaned path is always in normal form: it
// starts with a slash, has no dot or empty segment, no control character
// and no backslash, and cleaning it again changes nothing.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "/a/../b", "/%2e%2e/x", "//a", "/a%2fb", "/a?b=/c", "/a%zz", "/caf%C3%A9/", "/a/./b/"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, target string, normalize bool) {
		p, err := CleanPath(target, normalize)
		if err != nil {
			if p != "" {
				t.Fatalf("CleanPath(%q) = %q with error %v", target, p, err)
			}
			return
		}
		if p == "" || p[0] != '/' {
			t.Fatalf("CleanPath(%q) = %q: not absolute", target, p)
		}
		segs := strings.Split(p[1:], "/")
		for i, s := range segs {
			if s == "." || s == ".." || s == "" && i < len(segs)-1 {
				t.Fatalf("CleanPath(%q) = %q: segment %q", target, p, s)
			}
		}
		if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
			t.Fatalf("CleanPath(%q) = %q: control character or backslash", target, p)
		}
		// The decoded path, re-encoded the way a proxy forwards it,
		// cleans to itself.
		if !strings.ContainsAny(p, "%?# ") {
			if again, err := CleanPath(p, false); err != nil || again != p {
				t.Fatalf("CleanPath(%q) = %q, but CleanPath(%q) = %q, %v", target, p, p, again, err)
			}
		}
	})
}
