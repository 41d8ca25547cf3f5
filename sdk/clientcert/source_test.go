package clientcert_test

import (
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/internal/certtest"
)

func TestForwardedChain(t *testing.T) {
	ca := certtest.NewCA(t, "clients")
	leaf := ca.Issue(t, "bot")
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	tests := []struct {
		name   string
		f      clientcert.Forwarded
		peer   string
		header string
		value  string
		want   bool
		err    error
		source string
	}{
		{name: "nginx from a trusted proxy", f: clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx, TrustedProxies: []netip.Prefix{proxy}},
			peer: "10.1.2.3:5000", header: "X-Client-Cert", value: leaf.Escaped(), want: true, source: clientcert.SourceHeader},
		{name: "xfcc from a trusted proxy", f: clientcert.Forwarded{Header: "X-Forwarded-Client-Cert", Format: clientcert.FormatXFCC, TrustedProxies: []netip.Prefix{proxy}},
			peer: "10.1.2.3:5000", header: "X-Forwarded-Client-Cert", value: leaf.XFCC(), want: true, source: clientcert.SourceHeader},
		{name: "from anyone else", f: clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx, TrustedProxies: []netip.Prefix{proxy}},
			peer: "192.0.2.1:5000", header: "X-Client-Cert", value: leaf.Escaped(), err: clientcert.ErrUntrustedPeer},
		{name: "header not configured", f: clientcert.Forwarded{}, peer: "10.1.2.3:5000", header: "X-Client-Cert", value: leaf.Escaped()},
		{name: "nginx's no certificate", f: clientcert.Forwarded{Header: "X-Client-Cert", Format: clientcert.FormatNginx, TrustedProxies: []netip.Prefix{proxy}},
			peer: "10.1.2.3:5000", header: "X-Client-Cert", value: "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			r.Header.Set(tt.header, tt.value)
			chain, source, err := tt.f.Chain(r)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got := chain != nil; got != tt.want {
				t.Fatalf("chain = %v, want one: %v", chain, tt.want)
			}
			if tt.want && (clientcert.Thumbprint(chain[0]) != clientcert.Thumbprint(leaf.Cert) || source != tt.source) {
				t.Fatalf("got another certificate, or source %q", source)
			}
		})
	}
	if err := (clientcert.Forwarded{Header: "X", Format: "apache"}).Check(); err == nil {
		t.Error("unknown format and no trusted proxies accepted")
	}
}
