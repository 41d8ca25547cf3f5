package dpop

import (
	"errors"
	"net/url"
	"strings"
)

// maxURIBytes bounds a URI given to NormalizeURI.
const maxURIBytes = 4096

// NormalizeURI returns uri in the form htu values are compared in (RFC 9449
// §4.3): an absolute http or https URI without query and fragment, after
// RFC 3986 §6.2.2 syntax-based normalization (scheme and host lower-cased,
// percent-encodings upper-cased, those of unreserved characters decoded,
// dot segments removed) and §6.2.3 scheme-based normalization (the default
// port dropped, an empty path written "/"). A URI with user information is
// refused: no request target has one.
func NormalizeURI(uri string) (string, error) {
	if len(uri) > maxURIBytes {
		return "", errors.New("URI too long")
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	u, err := url.Parse(uri)
	if err != nil {
		return "", errors.New("not a URI")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("not an http or https URI")
	}
	if u.Opaque != "" || u.Host == "" {
		return "", errors.New("not an absolute URI with a host")
	}
	if u.User != nil {
		return "", errors.New("URI has user information")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("URI has an empty host")
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port // "host:" has no port, and drops its colon (§6.2.3)
	}
	path, err := normalizePath(u.EscapedPath())
	if err != nil {
		return "", err
	}
	out := u.Scheme + "://" + host + path
	if len(out) > maxURIBytes {
		return "", errors.New("URI too long")
	}
	return out, nil
}

// normalizePath upper-cases percent-encodings, decodes those of unreserved
// characters, removes dot segments (RFC 3986 §5.2.4) and writes an empty
// path as "/".
func normalizePath(p string) (string, error) {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", errors.New("bad percent-encoding in path")
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		if unreserved(v) {
			b.WriteByte(v)
		} else {
			b.WriteByte('%')
			b.WriteByte(upper(p[i+1]))
			b.WriteByte(upper(p[i+2]))
		}
		i += 2
	}
	out := removeDotSegments(b.String())
	if out == "" {
		out = "/"
	}
	return out, nil
}

// removeDotSegments is the algorithm of RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string // segments, each with its leading "/"
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			start := 0
			if in[0] == '/' {
				start = 1
			}
			end := strings.IndexByte(in[start:], '/')
			if end < 0 {
				end = len(in)
			} else {
				end += start
			}
			out = append(out, in[:end])
			in = in[end:]
		}
	}
	return strings.Join(out, "")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// unreserved reports RFC 3986 §2.3 unreserved characters.
func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
