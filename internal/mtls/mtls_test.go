package mtls_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/sdk/clientcert"
)

// nginxEscape escapes PEM as nginx's $ssl_client_escaped_cert does.
func nginxEscape(pemData []byte) string { return url.PathEscape(string(pemData)) }

// envoyEscape percent-encodes all but unreserved characters, as Envoy
// encodes the Cert and Chain values.
func envoyEscape(b []byte) string {
	var out strings.Builder
	for _, c := range b {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			out.WriteByte(c)
		} else {
			fmt.Fprintf(&out, "%%%02X", c)
		}
	}
	return out.String()
}

func xfcc(cert, chain []byte, extra string) string {
	v := `By=spiffe://example.org/permiso;Hash=d41d8cd98f00b204e9800998ecf8427e`
	if cert != nil {
		v += `;Cert="` + envoyEscape(cert) + `"`
	}
	if chain != nil {
		v += `;Chain="` + envoyEscape(chain) + `"`
	}
	return v + extra
}

func TestParseEscapedPEM(t *testing.T) {
	ca := mtlstest.NewCA(t, "clients")
	leaf := ca.Issue(t, mtlstest.Options{Subject: pkix.Name{CommonName: "bot"}})
	for name, v := range map[string]string{
		"escaped":  nginxEscape(mtlstest.PEM(leaf.Cert)),
		"raw PEM":  string(mtlstest.PEM(leaf.Cert)),
		"padded":   "  " + nginxEscape(mtlstest.PEM(leaf.Cert)) + " ",
		"plus2B":   strings.ReplaceAll(nginxEscape(mtlstest.PEM(leaf.Cert)), "+", "%2B"),
		"w/ chain": nginxEscape(mtlstest.PEM(leaf.Chain...)),
	} {
		chain, err := mtls.ParseEscapedPEM(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !chain[0].Equal(leaf.Cert) {
			t.Fatalf("%s: wrong certificate", name)
		}
	}
	for _, none := range []string{"", "-", "(null)"} {
		if chain, err := mtls.ParseEscapedPEM(none); chain != nil || err != nil {
			t.Fatalf("%q: got %v, %v; want no certificate", none, chain, err)
		}
	}
	for name, bad := range map[string]string{
		"not PEM":    "hello",
		"bad escape": "%zz",
		"key block":  url.PathEscape("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
		"garbage":    url.PathEscape("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
		"too large":  strings.Repeat("A", clientcert.MaxHeaderBytes+1),
	} {
		if _, err := mtls.ParseEscapedPEM(bad); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

func TestParseXFCC(t *testing.T) {
	ca := mtlstest.NewCA(t, "clients")
	leaf := ca.Issue(t, mtlstest.Options{URIs: []string{"spiffe://example.org/bot"}})
	certPEM, chainPEM := mtlstest.PEM(leaf.Cert), mtlstest.PEM(leaf.Chain...)

	chain, err := mtls.ParseXFCC(xfcc(certPEM, nil, `;Subject="CN=bot, O=\"Quoted, Inc.\"";URI=spiffe://example.org/bot`))
	if err != nil || len(chain) != 1 || !chain[0].Equal(leaf.Cert) {
		t.Fatalf("Cert only: %v, %d certs", err, len(chain))
	}
	chain, err = mtls.ParseXFCC(xfcc(certPEM, chainPEM, ""))
	if err != nil || len(chain) != 2 || !chain[0].Equal(leaf.Cert) || !chain[1].Equal(ca.Cert) {
		t.Fatalf("Cert and Chain: %v, %d certs", err, len(chain))
	}
	chain, err = mtls.ParseXFCC(xfcc(nil, chainPEM, ""))
	if err != nil || len(chain) != 2 || !chain[0].Equal(leaf.Cert) {
		t.Fatalf("Chain only: %v, %d certs", err, len(chain))
	}
	if chain, err := mtls.ParseXFCC(`By=spiffe://x;Hash=abc;Subject="CN=a"`); chain != nil || err != nil {
		t.Fatalf("no Cert: %v, %v; want no certificate", chain, err)
	}
	// With two elements a proxy appended to what the client sent: the
	// first is not to be believed.
	if _, err := mtls.ParseXFCC(xfcc(certPEM, nil, "") + "," + xfcc(certPEM, nil, "")); err == nil {
		t.Fatal("two elements accepted")
	}
	for name, bad := range map[string]string{
		"unterminated": `Cert="abc`,
		"no key":       `=abc`,
		"repeated":     `Hash=a;Hash=b`,
		"bad cert":     `Cert="` + envoyEscape([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")) + `"`,
	} {
		if _, err := mtls.ParseXFCC(bad); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

func TestExtractorTrustsOnlyConfiguredProxies(t *testing.T) {
	ca := mtlstest.NewCA(t, "clients")
	leaf := ca.Issue(t, mtlstest.Options{DNSNames: []string{"bot.example.com"}})
	var logs bytes.Buffer
	e := mtls.Extractor{Header: "X-SSL-Client-Cert", Format: mtls.FormatNginx,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := e.Check(); err != nil {
		t.Fatal(err)
	}
	var got *mtls.Presented
	h := e.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = mtls.FromContext(r.Context()) }))
	send := func(peer string, header string, tlsCert *x509.Certificate) *mtls.Presented {
		got = nil
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		r.RemoteAddr = peer
		if header != "" {
			r.Header.Set("X-SSL-Client-Cert", header)
		}
		if tlsCert != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tlsCert}}
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	escaped := nginxEscape(mtlstest.PEM(leaf.Cert))
	if p := send("10.1.2.3:4444", escaped, nil); p == nil || p.Source != mtls.SourceHeader || !p.Leaf().Equal(leaf.Cert) {
		t.Fatalf("trusted proxy: got %+v", p)
	}
	if p := send("203.0.113.7:4444", escaped, nil); p != nil {
		t.Fatal("a header from an untrusted peer was believed")
	}
	if !strings.Contains(logs.String(), "untrusted peer") {
		t.Fatalf("untrusted header not logged: %s", logs.String())
	}
	other := ca.Issue(t, mtlstest.Options{})
	if p := send("10.1.2.3:4444", escaped, other.Cert); p == nil || p.Source != mtls.SourceTLS || !p.Leaf().Equal(other.Cert) {
		t.Fatalf("TLS certificate does not take precedence: %+v", p)
	}
	if p := send("10.1.2.3:4444", "garbage", nil); p != nil {
		t.Fatal("garbage header gave a certificate")
	}
	if p := send("10.1.2.3:4444", "", nil); p != nil {
		t.Fatal("no header gave a certificate")
	}
	if err := (mtls.Extractor{Header: "X", Format: "apache"}).Check(); err == nil {
		t.Fatal("unknown format accepted")
	}
	if err := (mtls.Extractor{Header: "X", Format: mtls.FormatXFCC}).Check(); err == nil {
		t.Fatal("header without trusted proxies accepted")
	}
}

func TestVerify(t *testing.T) {
	ca, other := mtlstest.NewCA(t, "clients"), mtlstest.NewCA(t, "elsewhere")
	good := ca.Issue(t, mtlstest.Options{})
	now := time.Now()
	if err := mtls.Verify(good.Chain, ca.Pool(), now); err != nil {
		t.Fatalf("good chain: %v", err)
	}
	if err := mtls.Verify(good.Chain[:1], ca.Pool(), now); err != nil {
		t.Fatalf("leaf alone, CA in roots: %v", err)
	}
	for name, tc := range map[string]struct {
		chain []*x509.Certificate
		roots *x509.CertPool
		at    time.Time
	}{
		"another CA":      {other.Issue(t, mtlstest.Options{}).Chain, ca.Pool(), now},
		"expired":         {good.Chain, ca.Pool(), now.Add(48 * time.Hour)},
		"server only":     {ca.Issue(t, mtlstest.Options{Server: true}).Chain, ca.Pool(), now},
		"self-signed":     {mtlstest.SelfSigned(t, mtlstest.Options{}).Chain, ca.Pool(), now},
		"no roots":        {good.Chain, nil, now},
		"no certificates": {nil, ca.Pool(), now},
	} {
		if err := mtls.Verify(tc.chain, tc.roots, tc.at); err == nil {
			t.Fatalf("%s: verified", name)
		}
	}
	pool, n, err := mtls.LoadPool(append(mtlstest.PEM(ca.Cert), mtlstest.PEM(other.Cert)...))
	if err != nil || n != 2 {
		t.Fatalf("LoadPool: %d, %v", n, err)
	}
	if err := mtls.Verify(good.Chain, pool, now); err != nil {
		t.Fatalf("loaded pool: %v", err)
	}
	if _, _, err := mtls.LoadPool([]byte("no pem")); err == nil {
		t.Fatal("LoadPool accepted no certificates")
	}
}

func TestMatches(t *testing.T) {
	ca := mtlstest.NewCA(t, "clients")
	c := ca.Issue(t, mtlstest.Options{
		Subject: pkix.Name{CommonName: "trading bot", OrganizationalUnit: []string{"Trading"},
			Organization: []string{"Example, Inc."}, Country: []string{"DE"}},
		DNSNames: []string{"bot.example.com"},
		URIs:     []string{"spiffe://example.org/ns/trading/sa/bot"},
		IPs:      []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::1")},
		Emails:   []string{"Bot@Example.com"},
	}).Cert
	tests := []struct {
		field, value string
		want         bool
	}{
		{mtls.FieldSubjectDN, `CN=trading bot,OU=Trading,O=Example\, Inc.,C=DE`, true},
		{mtls.FieldSubjectDN, `cn=Trading  Bot, ou=trading, o=Example\2C Inc., c=de`, true},
		{mtls.FieldSubjectDN, `2.5.4.3=trading bot,OU=Trading,O=Example\, Inc.,C=DE`, true},
		{mtls.FieldSubjectDN, `CN=#0c0b74726164696e6720626f74,OU=Trading,O=Example\, Inc.,C=DE`, true},
		{mtls.FieldSubjectDN, `CN=trading bot,O=Example\, Inc.,C=DE`, false},            // OU missing
		{mtls.FieldSubjectDN, `C=DE,O=Example\, Inc.,OU=Trading,CN=trading bot`, false}, // reversed
		{mtls.FieldSubjectDN, `CN=other,OU=Trading,O=Example\, Inc.,C=DE`, false},
		{mtls.FieldSANDNS, "bot.example.com", true},
		{mtls.FieldSANDNS, "example.com", false},
		{mtls.FieldSANURI, "spiffe://example.org/ns/trading/sa/bot", true},
		{mtls.FieldSANURI, "spiffe://example.org/ns/trading/sa", false},
		{mtls.FieldSANIP, "192.0.2.10", true},
		{mtls.FieldSANIP, "2001:db8::1", true},
		{mtls.FieldSANIP, "192.0.2.11", false},
		{mtls.FieldSANEmail, "Bot@example.COM", true},
		{mtls.FieldSANEmail, "bot@example.com", false}, // local parts are case-sensitive
		{"san_other", "x", false},
	}
	for _, tc := range tests {
		value := tc.value
		if n, err := mtls.NormalizeValue(tc.field, tc.value); err == nil {
			value = n
		}
		if got := mtls.Matches(c, tc.field, value); got != tc.want {
			t.Errorf("Matches(%s, %q) = %v, want %v", tc.field, tc.value, got, tc.want)
		}
	}
}

func TestNormalizeValueRefuses(t *testing.T) {
	for _, tc := range [][2]string{
		{mtls.FieldSubjectDN, "CN"}, {mtls.FieldSubjectDN, `CN=a"b`}, {mtls.FieldSubjectDN, "XX=a"},
		{mtls.FieldSubjectDN, `CN=a\`}, {mtls.FieldSubjectDN, "CN=#zz"},
		{mtls.FieldSANDNS, "a b"}, {mtls.FieldSANURI, "not a uri"}, {mtls.FieldSANIP, "1.2.3"},
		{mtls.FieldSANEmail, "nobody"}, {mtls.FieldSANDNS, ""}, {"subject", "CN=a"},
	} {
		if _, err := mtls.NormalizeValue(tc[0], tc[1]); err == nil {
			t.Errorf("NormalizeValue(%s, %q) accepted", tc[0], tc[1])
		}
	}
	if v, _ := mtls.NormalizeValue(mtls.FieldSANDNS, "Bot.Example.COM."); v != "bot.example.com" {
		t.Fatalf("DNS name normalized to %q", v)
	}
	if v, _ := mtls.NormalizeValue(mtls.FieldSANIP, "::ffff:192.0.2.1"); v != "192.0.2.1" {
		t.Fatalf("IP normalized to %q", v)
	}
}

func TestThumbprint(t *testing.T) {
	c := mtlstest.SelfSigned(t, mtlstest.Options{}).Cert
	p := &mtls.Presented{Chain: []*x509.Certificate{c}}
	if tp := p.Thumbprint(); len(tp) != 43 || tp != mtls.Thumbprint(c) || strings.ContainsAny(tp, "+/=") {
		t.Fatalf("thumbprint %q is not base64url SHA-256", tp)
	}
}

// TestChainVerifierRemembers: a chain that verified is not built again
// while every certificate of it is valid; time still counts.
func TestChainVerifierRemembers(t *testing.T) {
	ca, other := mtlstest.NewCA(t, "clients"), mtlstest.NewCA(t, "elsewhere")
	leaf := ca.Issue(t, mtlstest.Options{})
	v := mtls.NewChainVerifier(ca.Pool())
	now := time.Now()
	for range 3 {
		if err := v.Verify(leaf.Chain, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(leaf.Chain, leaf.Cert.NotAfter.Add(time.Second)); err == nil {
		t.Fatal("a remembered chain verified after its leaf expired")
	}
	if err := v.Verify(leaf.Chain, leaf.Cert.NotBefore.Add(-time.Second)); err == nil {
		t.Fatal("a remembered chain verified before its leaf was valid")
	}
	if err := v.Verify(other.Issue(t, mtlstest.Options{}).Chain, now); err == nil {
		t.Fatal("a chain of another CA verified")
	}
	if err := mtls.NewChainVerifier(nil).Verify(leaf.Chain, now); err == nil {
		t.Fatal("no roots verified")
	}
}

// TestExtractorRemembersForwardedChains: a header value parsed once is
// served from memory to trusted proxies, and never believed from anyone
// else or over a connection's own certificate.
func TestExtractorRemembersForwardedChains(t *testing.T) {
	ca := mtlstest.NewCA(t, "clients")
	leaf := ca.Issue(t, mtlstest.Options{DNSNames: []string{"bot.example.com"}})
	e := mtls.Extractor{Header: "X-SSL-Client-Cert", Format: mtls.FormatNginx,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	var got *mtls.Presented
	h := e.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = mtls.FromContext(r.Context()) }))
	send := func(peer, header string, tlsCert *x509.Certificate) *mtls.Presented {
		got = nil
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-SSL-Client-Cert", header)
		if tlsCert != nil {
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tlsCert}}
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	escaped := nginxEscape(mtlstest.PEM(leaf.Cert))
	first, second := send("10.1.2.3:4444", escaped, nil), send("10.9.9.9:5555", escaped, nil)
	if first == nil || second == nil || !first.Leaf().Equal(leaf.Cert) || second.Source != mtls.SourceHeader {
		t.Fatalf("trusted proxy: %+v, %+v", first, second)
	}
	if first.Leaf() != second.Leaf() {
		t.Fatal("the second request parsed the header again")
	}
	if p := send("203.0.113.7:4444", escaped, nil); p != nil {
		t.Fatal("a remembered header was believed from an untrusted peer")
	}
	other := ca.Issue(t, mtlstest.Options{})
	if p := send("10.1.2.3:4444", escaped, other.Cert); p == nil || p.Source != mtls.SourceTLS || !p.Leaf().Equal(other.Cert) {
		t.Fatalf("TLS certificate does not take precedence over a remembered header: %+v", p)
	}
	// Past the cache's bound, every value still parses to its own certificate.
	for i := range 1100 {
		l := ca.Issue(t, mtlstest.Options{DNSNames: []string{"bot" + strconv.Itoa(i) + ".example.com"}})
		if p := send("10.1.2.3:4444", nginxEscape(mtlstest.PEM(l.Cert)), nil); p == nil || !p.Leaf().Equal(l.Cert) {
			t.Fatalf("certificate %d: %+v", i, p)
		}
	}
}
