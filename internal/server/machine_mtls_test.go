package server_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/e2etest"
	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/internal/server"
)

// pki is a test PKI: a CA for Permiso's server certificate, one for
// client certificates, and their files.
type pki struct {
	serverCA, clientCA *mtlstest.CA
	certFile, keyFile  string
	clientCAFile       string
	dir                string
}

func newPKI(t *testing.T) *pki {
	p := &pki{serverCA: mtlstest.NewCA(t, "server CA"), clientCA: mtlstest.NewCA(t, "client CA"), dir: t.TempDir()}
	srv := p.serverCA.Issue(t, mtlstest.Options{Server: true, DNSNames: []string{"localhost", "mtls.auth.example.com"},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	p.certFile, p.keyFile = p.write(t, "tls.crt", mtlstest.PEM(srv.Cert)), p.write(t, "tls.key", srv.KeyPEM(t))
	p.clientCAFile = p.write(t, "client-ca.pem", mtlstest.PEM(p.clientCA.Cert))
	return p
}

func (p *pki) write(t *testing.T, name string, b []byte) string {
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// client returns an HTTPS client trusting the server CA, presenting leaf
// (none when nil).
func (p *pki) client(leaf *mtlstest.Leaf) *http.Client {
	conf := &tls.Config{RootCAs: p.serverCA.Pool()}
	if leaf != nil {
		conf.Certificates = []tls.Certificate{leaf.TLS()}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values, header http.Header) *response {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vv := range header {
		req.Header[k] = vv
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &response{Status: res.StatusCode, Header: res.Header, Body: b}
	json.Unmarshal(b, &out.JSON)
	return out
}

func mtlsTokenForm(clientID string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}}
}

// TestMutualTLS: Permiso terminates TLS itself; the client-certificate
// listener is separate and advertised in mtls_endpoint_aliases.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	mtlsAddr := freeAddr(t)
	ts := newTestServer(t, func(c *server.Config) {
		c.Issuer = "https://" + c.Addr
		c.TLSCertFile, c.TLSKeyFile, c.ClientCAFile = p.certFile, p.keyFile, p.clientCAFile
		c.MTLSAddr, c.MTLSBaseURL = mtlsAddr, "https://"+mtlsAddr
	})
	ts.client = p.client(nil)
	mtlsURL := "https://" + mtlsAddr

	meta := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
	aliases, _ := meta.JSON["mtls_endpoint_aliases"].(map[string]any)
	if aliases["token_endpoint"] != mtlsURL+"/oauth2/token" || aliases["introspection_endpoint"] != mtlsURL+"/oauth2/introspect" {
		t.Fatalf("mtls_endpoint_aliases: %v", meta.JSON["mtls_endpoint_aliases"])
	}
	methods, _ := meta.JSON["token_endpoint_auth_methods_supported"].([]any)
	for _, m := range []string{"tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt", "federated_jwt", "spiffe_jwt", "client_secret_basic"} {
		if !strings.Contains(string(meta.Body), `"`+m+`"`) {
			t.Fatalf("metadata lacks %s: %v", m, methods)
		}
	}

	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com",
		"scope_ids": []string{"trade:read"}}, 201)
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "SVID bot", "client_id": "svid-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_uri": "spiffe://example.org/ns/trading/sa/bot"}, 201)
	self := mtlstest.SelfSigned(t, mtlstest.Options{Subject: pkix.Name{CommonName: "self"}})
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Self-signed", "client_id": "self-bot",
		"token_endpoint_auth_method": "self_signed_tls_client_auth",
		"jwks":                       map[string]any{"keys": []any{jwttest.PublicJWK(self.Cert.PublicKey)}}}, 201)

	good := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	svid := p.clientCA.Issue(t, mtlstest.Options{URIs: []string{"spiffe://example.org/ns/trading/sa/bot"}})
	for name, tc := range map[string]struct {
		leaf     *mtlstest.Leaf
		clientID string
	}{
		"tls_client_auth, dNSName":        {good, "cert-bot"},
		"tls_client_auth, X.509-SVID URI": {svid, "svid-bot"},
		"self_signed_tls_client_auth":     {self, "self-bot"},
	} {
		r := postForm(t, p.client(tc.leaf), mtlsURL+"/oauth2/token", mtlsTokenForm(tc.clientID), nil)
		if r.Status != 200 || r.str("access_token") == "" {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
		r = postForm(t, p.client(tc.leaf), mtlsURL+"/api/v1/auth/service-token", url.Values{"client_id": {tc.clientID}}, nil)
		if r.Status != 200 {
			t.Fatalf("%s at service-token: %d %s", name, r.Status, r.Body)
		}
	}
	tok := postForm(t, p.client(good), mtlsURL+"/oauth2/token", mtlsTokenForm("cert-bot"), nil).str("access_token")
	in := postForm(t, p.client(good), mtlsURL+"/oauth2/introspect", url.Values{"client_id": {"cert-bot"}, "token": {tok}}, nil)
	if in.Status != 200 || in.JSON["active"] != true {
		t.Fatalf("introspect over mTLS: %d %s", in.Status, in.Body)
	}
	if r := postForm(t, p.client(good), mtlsURL+"/oauth2/revoke", url.Values{"client_id": {"cert-bot"}, "token": {tok}}, nil); r.Status != 200 {
		t.Fatalf("revoke over mTLS: %d %s", r.Status, r.Body)
	}

	otherCA := mtlstest.NewCA(t, "another CA")
	for _, tc := range []struct {
		name, clientID, reason string
		leaf                   *mtlstest.Leaf
		url                    string
	}{
		{"certificate from another CA", "cert-bot", "cert_untrusted", otherCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}}), mtlsURL},
		{"another dNSName", "cert-bot", "cert_subject_mismatch", p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"evil.example.com"}}), mtlsURL},
		{"expired certificate", "cert-bot", "cert_untrusted", p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"},
			NotBefore: good.Cert.NotBefore.AddDate(0, 0, -10), NotAfter: good.Cert.NotBefore.AddDate(0, 0, -9)}), mtlsURL},
		{"another self-signed key", "self-bot", "cert_not_registered", mtlstest.SelfSigned(t, mtlstest.Options{}), mtlsURL},
		{"no certificate", "cert-bot", "method_mismatch", nil, mtlsURL},
		{"main listener asks for none", "cert-bot", "method_mismatch", good, ts.URL},
	} {
		wantInvalidClient(t, tc.name, postForm(t, p.client(tc.leaf), tc.url+"/oauth2/token", mtlsTokenForm(tc.clientID), nil), "")
		ts.wantAuditReason(t, tc.reason)
	}
	// A certificate client never authenticates with a secret, even one
	// that looks right.
	r := postForm(t, p.client(good), mtlsURL+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
		http.Header{"Authorization": {"Basic Y2VydC1ib3Q6cG1zX2d1ZXNz"}})
	wantInvalidClient(t, "secret for a certificate client", r, "")

	t.Run("curl --cert", func(t *testing.T) {
		curl := e2etest.Require(t, "curl", "apt-get install curl")
		certFile := p.write(t, "bot.crt", mtlstest.PEM(good.Cert))
		keyFile := p.write(t, "bot.key", good.KeyPEM(t))
		caFile := p.write(t, "server-ca.pem", mtlstest.PEM(p.serverCA.Cert))
		out, err := exec.Command(curl, "-sS", "--fail-with-body", "--cacert", caFile, "--cert", certFile, "--key", keyFile,
			"-d", "grant_type=client_credentials", "-d", "client_id=cert-bot", mtlsURL+"/oauth2/token").CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"access_token"`) {
			t.Fatalf("curl: %v\n%s", err, out)
		}
	})
}

// TestForwardedClientCertificate: behind a proxy, the certificate comes in
// a header (nginx's escaped PEM or Envoy's XFCC), believed only from a
// trusted proxy.
func TestForwardedClientCertificate(t *testing.T) {
	p := newPKI(t)
	leaf := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	escaped := url.PathEscape(string(mtlstest.PEM(leaf.Cert)))
	xfcc := `By=spiffe://example.org/envoy;Hash=abc;Cert="` + strings.ReplaceAll(escaped, "+", "%2B") + `";DNS=bot.trading.example.com`
	for _, tc := range []struct {
		name, header, format, value string
		trusted                     string
		want                        int
	}{
		{"nginx from a trusted proxy", "X-SSL-Client-Cert", "nginx", escaped, "127.0.0.1/32", 200},
		{"xfcc from a trusted proxy", "X-Forwarded-Client-Cert", "xfcc", xfcc, "127.0.0.0/8", 200},
		{"nginx from an untrusted address", "X-SSL-Client-Cert", "nginx", escaped, "10.0.0.0/8", 401},
		{"xfcc from an untrusted address", "X-Forwarded-Client-Cert", "xfcc", xfcc, "192.168.0.0/16", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(c *server.Config) {
				c.ClientCAFile, c.ClientCertHeader, c.ClientCertFormat = p.clientCAFile, tc.header, tc.format
				c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
				c.MTLSBaseURL = "https://mtls.auth.example.com"
			})
			ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
				"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com"}, 201)
			r := postForm(t, http.DefaultClient, ts.URL+"/oauth2/token", mtlsTokenForm("cert-bot"), http.Header{tc.header: {tc.value}})
			if r.Status != tc.want {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tc.want)
			}
			if tc.want == 401 {
				wantInvalidClient(t, tc.name, r, "")
			}
		})
	}
}

// TestNginxForwardsClientCertificate runs deploy/nginx/mtls.conf in front
// of Permiso: curl --cert reaches the token endpoint through nginx, and a
// certificate header sent by the client itself is replaced.
func TestNginxForwardsClientCertificate(t *testing.T) {
	nginx := e2etest.Require(t, "nginx", "apt-get install nginx-light")
	curl := e2etest.Require(t, "curl", "apt-get install curl")
	p := newPKI(t)
	ts := newTestServer(t, func(c *server.Config) {
		c.ClientCAFile, c.ClientCertHeader, c.ClientCertFormat = p.clientCAFile, "X-SSL-Client-Cert", "nginx"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.MTLSBaseURL = "https://mtls.auth.example.com"
	})
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com"}, 201)

	dir := t.TempDir()
	os.Chmod(dir, 0o755) // nginx's workers run as nobody when started as root
	for _, d := range []string{"tmp", "tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "certs"} {
		os.Mkdir(filepath.Join(dir, d), 0o777)
		os.Chmod(filepath.Join(dir, d), 0o777)
	}
	for name, src := range map[string]string{"certs/tls.crt": p.certFile, "certs/tls.key": p.keyFile} {
		b, _ := os.ReadFile(src)
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	listen := freeAddr(t)
	b, err := os.ReadFile("../../deploy/nginx/mtls.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, s := range []string{"127.0.0.1:8000", "127.0.0.1:8443"} {
		if !strings.Contains(conf, s) {
			t.Fatalf("mtls.conf no longer contains %q; update the test", s)
		}
	}
	conf = strings.NewReplacer("127.0.0.1:8000", strings.TrimPrefix(ts.URL, "http://"), "127.0.0.1:8443", listen).Replace(conf)
	confFile := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confFile, []byte(conf), 0o644)
	proc := e2etest.Start(t, "nginx", nil, nginx, "-p", dir, "-c", confFile, "-e", "stderr", "-g", "daemon off;")

	good := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	certFile, keyFile := p.write(t, "bot.crt", mtlstest.PEM(good.Cert)), p.write(t, "bot.key", good.KeyPEM(t))
	caFile := p.write(t, "server-ca.pem", mtlstest.PEM(p.serverCA.Cert))
	tokenURL := "https://" + listen + "/oauth2/token"
	curlToken := func(extra ...string) (string, error) {
		args := append([]string{"-sS", "--cacert", caFile, "-d", "grant_type=client_credentials", "-d", "client_id=cert-bot"}, extra...)
		out, err := exec.Command(curl, append(args, tokenURL)...).CombinedOutput()
		return string(out), err
	}
	e2etest.Eventually(t, "nginx answers", 20*1e9, func() bool {
		if proc.Exited() {
			t.Fatalf("nginx exited:\n%s", proc.Output())
		}
		_, err := curlToken()
		return err == nil
	})
	if out, err := curlToken("--cert", certFile, "--key", keyFile); err != nil || !strings.Contains(out, `"access_token"`) {
		t.Fatalf("curl --cert through nginx: %v\n%s", err, out)
	}
	// Without a certificate, a header the client writes itself is replaced.
	forged := url.PathEscape(string(mtlstest.PEM(good.Cert)))
	if out, _ := curlToken("-H", "X-SSL-Client-Cert: "+forged); !strings.Contains(out, `"invalid_client"`) {
		t.Fatalf("forged header through nginx: %s", out)
	}
}
