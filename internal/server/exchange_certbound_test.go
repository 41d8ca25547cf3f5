package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestTokenExchangeCertificateBoundSubject: a subject token bound to a TLS
// client certificate (RFC 8705 §3) is exchanged only over a connection with
// that certificate, so only by its holder, and what is derived from it
// stays bound to it. A service it was sent to cannot prove the
// certificate and is refused.
func TestTokenExchangeCertificateBoundSubject(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	mtlsAddr := freeAddr(t)
	ts := newTestServer(t, func(c *server.Config) {
		c.Issuer = "https://" + c.Addr
		c.TLSCertFile, c.TLSKeyFile, c.ClientCAFile = p.certFile, p.keyFile, p.clientCAFile
		c.MTLSAddr, c.MTLSBaseURL = mtlsAddr, "https://"+mtlsAddr
	})
	ts.client = p.client(nil)
	tokenURL, mtlsTokenURL := ts.URL+"/oauth2/token", "https://"+mtlsAddr+"/oauth2/token"
	policy := map[string]any{"resources": []string{serviceAudience}, "delegate": true,
		"targets": []map[string]any{{"audience": riskAud, "scopes": []string{"trade:read"}}}}
	ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Cert bot", "client_id": "cert-bot",
		"token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "bot.trading.example.com",
		"grant_types": []string{"client_credentials", wire.GrantTokenExchange}, "scope_ids": []string{"trade:read"},
		"audiences": []string{serviceAudience}, "tls_client_certificate_bound_access_tokens": true,
		"token_exchange": policy}, http.StatusCreated)
	r := ts.mustJSON(t, "POST", "/api/v1/service-clients", map[string]any{"name": "Service", "client_id": "svc",
		"grant_types": []string{wire.GrantTokenExchange}, "token_exchange": policy}, http.StatusCreated)
	svcSecret := r.str("client_secret")
	mine := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"bot.trading.example.com"}})
	theirs := p.clientCA.Issue(t, mtlstest.Options{DNSNames: []string{"svc.trading.example.com"}})

	r = postForm(t, p.client(mine), mtlsTokenURL, mtlsTokenForm("cert-bot"), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("token over mutual TLS: %d %s", r.Status, r.Body)
	}
	bound := r.str("access_token")
	x5t := mtls.Thumbprint(mine.Cert)
	if c := tokenClaims(t, bound); c.Cnf == nil || c.Cnf.X5TS256 != x5t {
		t.Fatalf("subject cnf %+v", c.Cnf)
	}
	form := url.Values{"grant_type": {wire.GrantTokenExchange}, "subject_token": {bound},
		"subject_token_type": {wire.TokenTypeAccessToken}, "audience": {riskAud}}
	basic := func(id, secret string) http.Header {
		req, _ := http.NewRequest("POST", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return http.Header{"Authorization": {req.Header.Get("Authorization")}}
	}

	// The service the token was sent to holds no certificate of the bot's.
	for name, c := range map[string]*http.Client{"without a certificate": p.client(nil), "with its own certificate": p.client(theirs)} {
		u := tokenURL
		if name != "without a certificate" {
			u = mtlsTokenURL
		}
		r := postForm(t, c, u, form, basic("svc", svcSecret))
		if r.Status != http.StatusBadRequest || r.str("error") != wire.ErrInvalidGrant {
			t.Fatalf("svc exchanging the bound token %s: %d %s", name, r.Status, r.Body)
		}
		noInternals(t, r)
	}

	// Its holder proves the certificate on the exchange itself.
	form.Set("client_id", "cert-bot")
	r = postForm(t, p.client(mine), mtlsTokenURL, form, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("the holder's exchange: %d %s", r.Status, r.Body)
	}
	c := tokenClaims(t, r.str("access_token"))
	if c.Cnf == nil || c.Cnf.X5TS256 != x5t || c.Act == nil || c.Act.ClientID != "cert-bot" ||
		c.RootID != tokenClaims(t, bound).ID || c.Subject != "cert-bot" {
		t.Fatalf("derived claims %+v (cnf %+v): the binding was dropped", c, c.Cnf)
	}
}
