package clientcert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Limits on what one request may carry.
const (
	// MaxHeaderBytes bounds a forwarded certificate header.
	MaxHeaderBytes = 32 << 10
	// MaxChain bounds the certificates read from one request.
	MaxChain = 8
)

// ParseEscapedPEM reads nginx's $ssl_client_escaped_cert: the client's PEM
// certificate, URL-escaped. An empty value or nginx's "-" means no
// certificate (nil, nil). Unescaped PEM (a proxy that forwards it raw) is
// read too.
func ParseEscapedPEM(v string) ([]*x509.Certificate, error) {
	if len(v) > MaxHeaderBytes {
		return nil, errors.New("header too large")
	}
	v = strings.TrimSpace(v)
	if v == "" || v == "-" || v == "(null)" {
		return nil, nil
	}
	if !strings.HasPrefix(v, "-----BEGIN ") {
		u, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("unescape: %w", err)
		}
		v = u
	}
	return parseChain(v)
}

// ParseXFCC reads Envoy's X-Forwarded-Client-Cert header: a
// comma-separated list of elements, each semicolon-separated key=value
// pairs whose values may be double-quoted (with backslash escapes). The
// certificate is the element's Cert (URL-escaped PEM) or, failing that,
// the first of its Chain. Only one element is accepted: with more, a proxy
// appended to a header the client sent, and the first would be the
// client's own invention. No Cert and no Chain means no certificate.
func ParseXFCC(v string) ([]*x509.Certificate, error) {
	if len(v) > MaxHeaderBytes {
		return nil, errors.New("header too large")
	}
	elems, err := splitXFCC(v)
	if err != nil {
		return nil, err
	}
	switch len(elems) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%d elements; configure the proxy to sanitize the header (SANITIZE_SET)", len(elems))
	}
	e := elems[0]
	cert, chain := e["cert"], e["chain"]
	if cert == "" && chain == "" {
		return nil, nil
	}
	var out []*x509.Certificate
	if cert != "" {
		pemText, err := url.PathUnescape(cert)
		if err != nil {
			return nil, fmt.Errorf("XFCC Cert: %w", err)
		}
		if out, err = parseChain(pemText); err != nil {
			return nil, fmt.Errorf("XFCC Cert: %w", err)
		}
		out = out[:1]
	}
	if chain != "" {
		pemText, err := url.PathUnescape(chain)
		if err != nil {
			return nil, fmt.Errorf("Chain: %w", err)
		}
		rest, err := parseChain(pemText)
		if err != nil {
			return nil, fmt.Errorf("Chain: %w", err)
		}
		switch {
		case out == nil:
			out = rest
		case rest[0].Equal(out[0]):
			out = rest
		default:
			out = append(out, rest...)
		}
	}
	if len(out) > MaxChain {
		out = out[:MaxChain]
	}
	return out, nil
}

// splitXFCC splits an XFCC value into elements of lower-cased keys.
func splitXFCC(v string) ([]map[string]string, error) {
	var elems []map[string]string
	cur := map[string]string{}
	var key, val strings.Builder
	inKey, quoted, escaped := true, false, false
	flushPair := func() error {
		k := strings.ToLower(strings.TrimSpace(key.String()))
		if k == "" && val.Len() == 0 {
			return nil
		}
		if k == "" {
			return errors.New("element pair without a key")
		}
		if _, dup := cur[k]; dup && k != "uri" && k != "dns" {
			return fmt.Errorf("key %q repeated", k)
		}
		if len(cur) >= 32 {
			return errors.New("too many keys in one element")
		}
		cur[k] = strings.TrimSpace(val.String())
		key.Reset()
		val.Reset()
		inKey = true
		return nil
	}
	flushElem := func() {
		if len(cur) > 0 {
			elems = append(elems, cur)
		}
		cur = map[string]string{}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case escaped:
			val.WriteByte(c)
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case quoted && c == '"':
			quoted = false
		case quoted:
			val.WriteByte(c)
		case c == '"' && !inKey:
			quoted = true
		case c == '=' && inKey:
			inKey = false
		case c == ';':
			if err := flushPair(); err != nil {
				return nil, err
			}
		case c == ',':
			if err := flushPair(); err != nil {
				return nil, err
			}
			flushElem()
		case inKey:
			key.WriteByte(c)
		default:
			val.WriteByte(c)
		}
		if len(elems) > 16 {
			return nil, errors.New("too many elements")
		}
	}
	if quoted || escaped {
		return nil, errors.New("unterminated quoted value")
	}
	if !inKey || key.Len() > 0 {
		if err := flushPair(); err != nil {
			return nil, err
		}
	}
	flushElem()
	return elems, nil
}

// parseChain reads one or more PEM CERTIFICATE blocks.
func parseChain(pemText string) ([]*x509.Certificate, error) {
	certs, err := ParsePEM(pemText, MaxChain)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// ParsePEM reads up to max PEM CERTIFICATE blocks from s; any other block
// type is an error.
func ParsePEM(s string, max int) ([]*x509.Certificate, error) {
	rest := []byte(s)
	var out []*x509.Certificate
	for len(out) < max {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %q is not a certificate", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}
