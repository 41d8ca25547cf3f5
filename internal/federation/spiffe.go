package federation

import (
	"errors"
	"strings"
)

// ParseSPIFFEID checks a SPIFFE ID (SPIFFE-ID §2) and returns its trust
// domain and path: "spiffe://" + a trust domain of lower-case letters,
// digits, '.', '-' and '_' + a path of non-empty segments of letters,
// digits, '.', '-' and '_', none "." or "..", with no query, fragment,
// port or user info.
func ParseSPIFFEID(s string) (trustDomain, path string, err error) {
	if len(s) > 2048 {
		return "", "", errors.New("a SPIFFE ID is at most 2048 bytes")
	}
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return "", "", errors.New(`a SPIFFE ID starts with "spiffe://"`)
	}
	td, p, _ := strings.Cut(rest, "/")
	if err := CheckTrustDomain(td); err != nil {
		return "", "", err
	}
	if p == "" {
		if strings.HasSuffix(rest, "/") {
			return "", "", errors.New("a SPIFFE ID path must not end with /")
		}
		return td, "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			return "", "", errors.New("a SPIFFE ID path has no empty segments")
		}
		if seg == "." || seg == ".." {
			return "", "", errors.New(`a SPIFFE ID path has no "." or ".." segments`)
		}
		for _, c := range []byte(seg) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
				return "", "", errors.New("a SPIFFE ID path holds only letters, digits, '.', '-' and '_'")
			}
		}
	}
	return td, "/" + p, nil
}

// CheckTrustDomain checks a SPIFFE trust domain name.
func CheckTrustDomain(td string) error {
	if td == "" {
		return errors.New("the trust domain is empty")
	}
	if len(td) > 255 {
		return errors.New("a trust domain is at most 255 characters")
	}
	for _, c := range []byte(td) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return errors.New("a trust domain holds only lower-case letters, digits, '.', '-' and '_'")
		}
	}
	return nil
}

// CheckSPIFFESubject checks a binding subject of a SPIFFE trust: a SPIFFE
// ID of trustDomain with a path, or such an ID followed by "/*", which
// matches every ID below it (whole path segments only).
func CheckSPIFFESubject(subject, trustDomain string) error {
	id := strings.TrimSuffix(subject, "/*")
	td, path, err := ParseSPIFFEID(id)
	if err != nil {
		return err
	}
	if td != trustDomain {
		return errors.New("the SPIFFE ID is not in the trust's trust domain " + trustDomain)
	}
	if path == "" && id == subject {
		return errors.New("a workload's SPIFFE ID has a path")
	}
	return nil
}

// spiffeMatch reports whether id matches a binding subject: equal, or
// below a "/*" prefix on a segment boundary (spiffe://td/a/* matches
// spiffe://td/a/b but not spiffe://td/ab).
func spiffeMatch(subject, id string) bool {
	if prefix, ok := strings.CutSuffix(subject, "*"); ok && strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(id, prefix) && len(id) > len(prefix)
	}
	return subject == id
}
