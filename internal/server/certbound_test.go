package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/guard"
)

// TestCertificateBoundTokens: RFC 8705 §3 end to end. A client that
// registered tls_client_certificate_bound_access_tokens gets tokens bound
// to the certificate it called the token endpoint with (cnf.x5t#S256); a
// service behind sdk/guard that terminates mutual TLS accepts such a token
// only over a connection with that certificate; refresh needs it too.
func TestCertificateBoundTokens(t *testing.T) {
	p := newPKI(t)
	mtlsAddr := freeAddr(t)
	ts := newTestServer(t, func(c *server.Config) {
		c.Issuer = "https://" + c.Addr
		c.TLSCertFile, c.TLSKeyFile, c.ClientCAFile = p.certFile, p.keyFile, p.clientCAFile
		c.MTLSAddr, c.MTLSBaseURL = mtlsAddr, "https://"+mtlsAddr
	})
	ts.client = p.client(nil)
	mtlsURL := "https://" + mtlsAddr
	md := ts.do("GET", "/.well-known/oauth-authorization-server", nil, nil)
	if md.JSON["tls_client_certificate_bound_access_tokens"] != true {
		t.Fatalf("metadata: tls_client_certificate_bound_access_tokens = %v", md.JSON["tls_client_certificate_bound_access_tokens"])
	}

	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com",
		"scope_ids": []string{"trade:read"}, "audiences": []string{serviceAudience},
		"tls_client_certificate_bound_access_tokens": true}, 201)
	mine := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	theirs := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"thief.example.com"}})

	r := postForm(t, p.client(mine), mtlsURL+"/oauth2/token", mtlsTokenForm("cert-bot"), nil)
	if r.Status != 200 || r.str("token_type") != "Bearer" {
		t.Fatalf("token over mTLS: %d %s", r.Status, r.Body)
	}
	tok := r.str("access_token")
	x5t := mtls.Thumbprint(mine.Cert)
	if cnf, _ := jwtClaims(t, tok)["cnf"].(map[string]any); cnf["x5t#S256"] != x5t {
		t.Fatalf("cnf = %v, want x5t#S256 %s", cnf, x5t)
	}
	in := postForm(t, p.client(mine), mtlsURL+"/oauth2/introspect", url.Values{"client_id": {"cert-bot"}, "token": {tok}}, nil)
	if cnf, _ := in.JSON["cnf"].(map[string]any); cnf["x5t#S256"] != x5t {
		t.Fatalf("introspection: %s", in.Body)
	}

	// A service terminating mutual TLS, its guard trusting Permiso's CA.
	g, err := guard.New(context.Background(), guard.Config{Issuer: ts.URL, Audience: serviceAudience,
		HTTPClient: p.client(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	svc := httptest.NewUnstartedServer(g.Require(guard.AllOf("trade:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, string(guard.BindingFrom(r.Context())))
	})))
	svc.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	svc.StartTLS()
	t.Cleanup(svc.Close)
	deadline := time.Now().Add(10 * time.Second)
	for !g.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("guard not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	callWith := func(leaf *mtlstest.Leaf) (int, string) {
		tr := svc.Client().Transport.(*http.Transport).Clone()
		if leaf != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{leaf.TLS()}
		}
		req, _ := http.NewRequest("GET", svc.URL+"/orders", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if status, body := callWith(mine); status != 200 || body != "mtls" {
		t.Fatalf("with its certificate: %d %s", status, body)
	}
	if status, body := callWith(theirs); status != 401 {
		t.Fatalf("over a connection with another certificate: %d %s", status, body)
	}
	if status, body := callWith(nil); status != 401 {
		t.Fatalf("over a connection without a certificate: %d %s", status, body)
	}

	// A client with a secret that asks for certificate-bound tokens must
	// call with a certificate; its refresh tokens are bound to it as well.
	ts.newUser("cora", "trader")
	id, secret := ts.createClient(map[string]any{"name": "Secret bot", "scope_ids": []string{"trade:read"},
		"grant_types": []string{"password", "refresh_token"}, "tls_client_certificate_bound_access_tokens": true})
	basic := func() http.Header {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return http.Header{"Authorization": {req.Header.Get("Authorization")}}
	}
	login := url.Values{"grant_type": {"password"}, "username": {"cora"}, "password": {userPassword}}
	if r := postForm(t, p.client(nil), ts.URL+"/oauth2/token", login, basic()); r.Status != 400 || r.str("error") != "invalid_request" {
		t.Fatalf("without a certificate: %d %s", r.Status, r.Body)
	}
	r = postForm(t, p.client(mine), mtlsURL+"/oauth2/token", login, basic())
	if cnf, _ := jwtClaims(t, r.str("access_token"))["cnf"].(map[string]any); r.Status != 200 || cnf["x5t#S256"] != x5t {
		t.Fatalf("with a certificate: %d %s", r.Status, r.Body)
	}
	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.str("refresh_token")}}
	if r := postForm(t, p.client(theirs), mtlsURL+"/oauth2/token", refresh, basic()); r.Status != 400 || r.str("error") != "invalid_grant" {
		t.Fatalf("refresh with another certificate: %d %s", r.Status, r.Body)
	}
	if r := postForm(t, p.client(mine), mtlsURL+"/oauth2/token", refresh, basic()); r.Status != 200 {
		t.Fatalf("refresh with its certificate: %d %s", r.Status, r.Body)
	}
}
