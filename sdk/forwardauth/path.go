package forwardauth

import (
	"errors"
	"strings"
)

// Errors of [CleanPath]. Each makes the decision refuse the request (403):
// the decision cannot know how the upstream would read such a path, and a
// guess that differs from the upstream's reading would protect one path and
// serve another.
var (
	ErrBadPath      = errors.New("the request path is not an origin-form path")
	ErrBadEncoding  = errors.New("the request path has an invalid percent-encoding")
	ErrEncodedSlash = errors.New("the request path has an encoded slash or a backslash")
	ErrControlChar  = errors.New("the request path has a space or control character")
	ErrNotNormal    = errors.New("the request path has dot segments or empty segments")
	ErrAboveRoot    = errors.New("the request path climbs above the root")
	ErrPathTooLong  = errors.New("the request path is too long")
)

// maxPathBytes bounds the request-target a decision looks at.
const maxPathBytes = 8 << 10

// unhex maps a hexadecimal digit to its value and anything else to -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// CleanPath returns the decoded path of a request-target (the path and
// query of an HTTP request line, as X-Forwarded-Uri carries it) as the
// upstream will see it:
//
//   - the query and fragment are cut off before anything is decoded, so
//     "?" and "#" only count when percent-encoded (they are then part of
//     the path, as for the upstream);
//   - percent-encodings are decoded; an invalid one, a decoded control
//     character, and an encoded slash (%2F) or any backslash are refused,
//     because upstreams differ on whether they separate segments;
//   - dot segments ("." and "..", also encoded as %2e) and empty segments
//     ("//") are refused, unless normalize is true: then they are removed
//     as RFC 3986 §5.2.4 and nginx do (empty segments merged, ".." above
//     the root refused). Use normalize only when the proxy forwards the
//     normalized path to the upstream, as the shipped nginx and Envoy
//     configurations do; otherwise an upstream that does not remove dot
//     segments itself (many do not) would read another path than the one
//     the decision matched.
//
// A trailing slash is kept: "/a/" and "/a" are different paths.
func CleanPath(target string, normalize bool) (string, error) {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if len(target) > maxPathBytes {
		return "", ErrPathTooLong
	}
	if target == "" || target[0] != '/' {
		return "", ErrBadPath
	}
	// Fast path: nothing to decode and no segment to look at twice.
	if !strings.ContainsAny(target, "%\\") && !strings.Contains(target, "//") && !hasDotSegment(target) {
		for i := 0; i < len(target); i++ {
			if c := target[i]; c < 0x21 || c == 0x7f {
				return "", ErrControlChar
			}
		}
		return target, nil
	}
	decoded, err := decode(target)
	if err != nil {
		return "", err
	}
	segs := strings.Split(decoded[1:], "/")
	dirty := false
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i < len(segs)-1) {
			dirty = true
			break
		}
	}
	if !dirty {
		return decoded, nil
	}
	if !normalize {
		return "", ErrNotNormal
	}
	return removeDotSegments(segs)
}

// hasDotSegment reports whether an undecoded path has a "." or ".."
// segment.
func hasDotSegment(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] != '.' || p[i-1] != '/' { // p[0] is '/'
			continue
		}
		j := i + 1
		if j < len(p) && p[j] == '.' {
			j++
		}
		if j == len(p) || p[j] == '/' {
			return true
		}
	}
	return false
}

// decode percent-decodes p, refusing what CleanPath documents.
func decode(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c < 0x21 || c == 0x7f:
			return "", ErrControlChar // raw: cannot be in a request line
		case c == '%':
			if i+2 >= len(p) {
				return "", ErrBadEncoding
			}
			hi, lo := unhex(p[i+1]), unhex(p[i+2])
			if hi < 0 || lo < 0 {
				return "", ErrBadEncoding
			}
			c = byte(hi<<4 | lo)
			i += 2
			if c < 0x20 || c == 0x7f {
				return "", ErrControlChar
			}
		}
		if c == '/' && p[i] != '/' || c == '\\' {
			return "", ErrEncodedSlash
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// removeDotSegments rebuilds a path from its decoded segments (after the
// leading slash) without empty, "." and ".." segments.
func removeDotSegments(segs []string) (string, error) {
	out := make([]string, 0, len(segs))
	trailing := false
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case "", ".":
			trailing = last
		case "..":
			if len(out) == 0 {
				return "", ErrAboveRoot
			}
			out = out[:len(out)-1]
			trailing = last
		default:
			out = append(out, s)
			trailing = false
		}
	}
	p := "/" + strings.Join(out, "/")
	if trailing && len(out) > 0 {
		p += "/"
	}
	return p, nil
}
