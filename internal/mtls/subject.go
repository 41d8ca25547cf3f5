package mtls

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Registered certificate values of tls_client_auth (RFC 8705 §2.1.2),
// named as store.TLSClientAuth.Field names them.
const (
	FieldSubjectDN = "subject_dn"
	FieldSANDNS    = "san_dns"
	FieldSANURI    = "san_uri"
	FieldSANIP     = "san_ip"
	FieldSANEmail  = "san_email"
)

// Fields lists the registrable fields in RFC 8705's order.
var Fields = []string{FieldSubjectDN, FieldSANDNS, FieldSANURI, FieldSANIP, FieldSANEmail}

// NormalizeValue checks a registered value of field and returns the form
// to store: a DN as written (it is compared in canonical form), a DNS name
// lower-cased, a URI as parsed, an IP address in canonical form.
func NormalizeValue(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", errors.New("must not be empty")
	}
	if len(v) > 1024 {
		return "", errors.New("must be at most 1024 characters")
	}
	switch field {
	case FieldSubjectDN:
		if _, err := ParseDN(v); err != nil {
			return "", err
		}
		return v, nil
	case FieldSANDNS:
		if strings.ContainsAny(v, " /@:") || strings.Contains(v, "..") {
			return "", errors.New("is not a DNS name")
		}
		return strings.ToLower(strings.TrimSuffix(v, ".")), nil
	case FieldSANURI:
		u, err := url.Parse(v)
		if err != nil || u.Scheme == "" {
			return "", errors.New("is not an absolute URI")
		}
		return u.String(), nil
	case FieldSANIP:
		a, err := netip.ParseAddr(v)
		if err != nil || a.Zone() != "" {
			return "", errors.New("is not an IPv4 or IPv6 address")
		}
		return a.Unmap().String(), nil
	case FieldSANEmail:
		local, domain, ok := strings.Cut(v, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(v, " <>") {
			return "", errors.New("is not an e-mail address")
		}
		return v, nil
	}
	return "", fmt.Errorf("unknown field %q", field)
}

// Matches reports whether c carries the registered value of field
// (RFC 8705 §2.1.2): its subject DN, or one of its SAN entries of that type.
func Matches(c *x509.Certificate, field, value string) bool {
	switch field {
	case FieldSubjectDN:
		want, err := ParseDN(value)
		if err != nil {
			return false
		}
		got, err := certDN(c)
		return err == nil && slices.EqualFunc(got, want, slices.Equal)
	case FieldSANDNS:
		return slices.ContainsFunc(c.DNSNames, func(n string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), value) })
	case FieldSANURI:
		return slices.ContainsFunc(c.URIs, func(u *url.URL) bool { return u.String() == value })
	case FieldSANIP:
		want, err := netip.ParseAddr(value)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(c.IPAddresses, func(ip net.IP) bool {
			a, ok := netip.AddrFromSlice(ip)
			return ok && a.Unmap() == want.Unmap()
		})
	case FieldSANEmail:
		return slices.ContainsFunc(c.EmailAddresses, func(e string) bool { return sameEmail(e, value) })
	}
	return false
}

// sameEmail compares local parts exactly and domains case-insensitively.
func sameEmail(a, b string) bool {
	la, da, ok1 := strings.Cut(a, "@")
	lb, db, ok2 := strings.Cut(b, "@")
	return ok1 && ok2 && la == lb && strings.EqualFold(da, db)
}

// A DN in canonical form: RDNs in RFC 4514 string order (most specific
// first), each a sorted list of "oid=value" with values folded as LDAP's
// caseIgnoreMatch does (case and runs of spaces).
type dn [][]string

// attribute type names of RFC 4514 §3 and common extensions.
var attrOIDs = map[string]string{
	"CN": "2.5.4.3", "C": "2.5.4.6", "L": "2.5.4.7", "ST": "2.5.4.8", "STREET": "2.5.4.9",
	"O": "2.5.4.10", "OU": "2.5.4.11", "SERIALNUMBER": "2.5.4.5", "TITLE": "2.5.4.12",
	"SN": "2.5.4.4", "GN": "2.5.4.42", "GIVENNAME": "2.5.4.42", "SURNAME": "2.5.4.4", "POSTALCODE": "2.5.4.17",
	"DC": "0.9.2342.19200300.100.1.25", "UID": "0.9.2342.19200300.100.1.1",
	"EMAILADDRESS": "1.2.840.113549.1.9.1", "E": "1.2.840.113549.1.9.1",
	"ORGANIZATIONIDENTIFIER": "2.5.4.97",
}

// ParseDN reads an RFC 4514 distinguished name such as
// "CN=bot,OU=Trading,O=Example\, Inc.,C=DE" into its canonical form.
func ParseDN(s string) (dn, error) {
	if len(s) > 4096 {
		return nil, errors.New("distinguished name too long")
	}
	var out dn
	var rdn []string
	i := 0
	for {
		// attributeType
		j := i
		for j < len(s) && s[j] != '=' {
			j++
		}
		if j == len(s) {
			return nil, fmt.Errorf("distinguished name: %q has no '='", s[i:])
		}
		typ := strings.TrimSpace(s[i:j])
		oid, err := attrOID(typ)
		if err != nil {
			return nil, err
		}
		val, next, err := dnValue(s, j+1)
		if err != nil {
			return nil, err
		}
		rdn = append(rdn, oid+"="+fold(val))
		if len(rdn) > 16 || len(out) > 64 {
			return nil, errors.New("distinguished name has too many parts")
		}
		if next == len(s) {
			break
		}
		if s[next] == ',' {
			slices.Sort(rdn)
			out = append(out, rdn)
			rdn = nil
		}
		i = next + 1
	}
	slices.Sort(rdn)
	out = append(out, rdn)
	return out, nil
}

func attrOID(typ string) (string, error) {
	if typ == "" {
		return "", errors.New("distinguished name: empty attribute type")
	}
	if o, ok := attrOIDs[strings.ToUpper(typ)]; ok {
		return o, nil
	}
	t := strings.TrimPrefix(strings.ToUpper(typ), "OID.")
	parts := strings.Split(t, ".")
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return "", fmt.Errorf("distinguished name: unknown attribute type %q", typ)
		}
	}
	if len(parts) < 2 {
		return "", fmt.Errorf("distinguished name: unknown attribute type %q", typ)
	}
	return t, nil
}

// dnValue reads a value starting at i; it returns the unescaped value and
// the index of the ',' or '+' that ends it (or len(s)).
func dnValue(s string, i int) (string, int, error) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i < len(s) && s[i] == '#' {
		j := i + 1
		for j < len(s) && s[j] != ',' && s[j] != '+' {
			j++
		}
		v, err := berString(strings.TrimSpace(s[i+1 : j]))
		return v, j, err
	}
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == ',' || c == '+':
			return strings.TrimRight(b.String(), " "), i, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", 0, errors.New("distinguished name: trailing backslash")
			}
			if i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
				x, _ := hex.DecodeString(s[i+1 : i+3])
				b.WriteByte(x[0])
				i += 3
				continue
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		case c == '"' || c == ';' || c == '<' || c == '>':
			return "", 0, fmt.Errorf("distinguished name: %q must be escaped", c)
		}
		b.WriteByte(c)
		i++
	}
	return strings.TrimRight(b.String(), " "), i, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// berString decodes a #hex value (the BER encoding of a string).
func berString(h string) (string, error) {
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", errors.New("distinguished name: bad #hex value")
	}
	var v any
	if rest, err := asn1.Unmarshal(b, &v); err != nil || len(rest) > 0 {
		return "", errors.New("distinguished name: #hex value is not one BER value")
	}
	s, ok := v.(string)
	if !ok {
		return "", errors.New("distinguished name: #hex value is not a string")
	}
	return s, nil
}

func fold(v string) string { return strings.ToLower(strings.Join(strings.Fields(v), " ")) }

// certDN returns the certificate's subject in canonical form.
func certDN(c *x509.Certificate) (dn, error) {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(c.RawSubject, &seq); err != nil || len(rest) > 0 {
		return nil, errors.New("certificate subject does not parse")
	}
	out := make(dn, 0, len(seq))
	for i := len(seq) - 1; i >= 0; i-- {
		var rdn []string
		for _, atv := range seq[i] {
			s, ok := atv.Value.(string)
			if !ok {
				return nil, errors.New("certificate subject holds a non-string value")
			}
			rdn = append(rdn, atv.Type.String()+"="+fold(s))
		}
		slices.Sort(rdn)
		out = append(out, rdn)
	}
	return out, nil
}
