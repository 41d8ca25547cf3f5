package bench

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Scenarios of clients without a shared secret (docs/machine-identity.md).
// private-key-jwt is compared with the reference handler's minimal
// private_key_jwt (the load generator signs an assertion per request for
// both); the others with its client_secret_basic, so their ratio is the
// whole cost of the method beside a secret check.
const (
	ScenarioPrivateKeyJWT = "private-key-jwt"
	ScenarioFederated     = "federated"
	ScenarioSPIFFE        = "spiffe"
	ScenarioTLSClientAuth = "tls-client-auth"
	ScenarioSelfSignedTLS = "self-signed-tls"
)

// issuerOf returns the server's issuer identifier, the aud of assertions.
func (s *setup) issuerOf(ctx context.Context) (string, error) {
	md, err := s.call(ctx, getRequest(s.base, "/.well-known/oauth-authorization-server"), http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("metadata: %w", err)
	}
	iss, ok := jsonString(md, "issuer")
	if !ok {
		return "", errors.New("metadata without issuer")
	}
	return string(iss), nil
}

// adminJSON sends an admin API request and requires want.
func (s *setup) adminJSON(ctx context.Context, path string, body any, want int) ([]byte, error) {
	tok, err := s.admin(ctx)
	if err != nil {
		return nil, err
	}
	r, err := jsonRequest(s.base, path, body, tok)
	if err != nil {
		return nil, err
	}
	return s.call(ctx, r, want)
}

// keylessClient creates a client that holds no secret; a server that does
// not know its method makes the scenario unavailable.
func (s *setup) keylessClient(ctx context.Context, name string, fields map[string]any) (string, error) {
	body := map[string]any{"name": "bench-" + name + "-" + s.runID, "client_id": "bench-" + name + "-" + s.runID,
		"scope_ids": benchScopes, "access_token_lifetime": 3600,
		"rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour}
	for k, v := range fields {
		body[k] = v
	}
	if _, err := s.adminJSON(ctx, "/api/v1/service-clients", body, http.StatusCreated); err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity {
			return "", &unavailableError{fmt.Errorf("create %s client: %w", name, err)}
		}
		return "", fmt.Errorf("create %s client: %w", name, err)
	}
	return body["client_id"].(string), nil
}

// assertionOp posts a client_credentials request with the assertion next
// returns (called per request) and requires a token.
func assertionOp(base, typ string, next func() (string, error)) func(int) Op {
	return func(int) Op {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {typ}}
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			a, err := next()
			if err != nil {
				return err
			}
			f := url.Values{"grant_type": form["grant_type"], "client_assertion_type": form["client_assertion_type"], "client_assertion": {a}}
			r := formRequest(base, "/oauth2/token", f, "", "")
			body, err := r.send(ctx, c, buf, http.StatusOK)
			if err != nil {
				return err
			}
			return checkToken(body)
		}
	}
}

// probe sends one request of newOp during setup, so a server that refuses
// fails the setup with its answer instead of the run with a count.
func (s *setup) probe(ctx context.Context, newOp func(int) Op) error {
	var buf bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return newOp(0)(ctx, s.client, &buf)
}

// preparePrivateKeyJWT: every request carries a fresh ES256 assertion
// (new jti), which Permiso verifies against the client's registered key and
// records as used, in the database the server shares with its replicas.
func preparePrivateKeyJWT(ctx context.Context, s *setup) (func(int) Op, error) {
	iss, err := s.issuerOf(ctx)
	if err != nil {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := jwt.NewSigner(k)
	if err != nil {
		return nil, err
	}
	jwks, err := publicJWKS(k.Public(), "bench")
	if err != nil {
		return nil, err
	}
	id, err := s.keylessClient(ctx, "pkjwt", map[string]any{"token_endpoint_auth_method": wire.AuthPrivateKeyJWT, "jwks": jwks})
	if err != nil {
		return nil, err
	}
	op := assertionOp(s.base, wire.AssertionTypeJWTBearer, freshAssertion(signer, id, iss, "bench"))
	return op, s.probe(ctx, op)
}

// refPrivateKeyJWTOp is private-key-jwt against the reference handler: the
// same fresh ES256 assertion per request, signed by the load generator
// alike, checked by the reference's minimal private_key_jwt.
func refPrivateKeyJWTOp(_ context.Context, _ *setup, ref *referenceServer) (func(int) Op, error) {
	signer, err := jwt.NewSigner(ref.clientKey)
	if err != nil {
		return nil, err
	}
	return assertionOp(ref.baseURL, wire.AssertionTypeJWTBearer, freshAssertion(signer, ref.clientID, ref.baseURL, "reference-client")), nil
}

// freshAssertion returns a function that signs a new private_key_jwt
// assertion (new jti) for every request.
func freshAssertion(signer *jwt.Signer, clientID, aud, kid string) func() (string, error) {
	return func() (string, error) {
		var jti [12]byte
		rand.Read(jti[:])
		now := time.Now()
		return signer.Compact(jwt.Header{KeyID: kid, Type: wire.ClientAssertionJWTType}, map[string]any{
			"iss": clientID, "sub": clientID, "aud": aud, "jti": base64.RawURLEncoding.EncodeToString(jti[:]),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	}
}

// prepareFederated: a Kubernetes-shaped service account token (RS256, as
// clusters sign them) of a trust with static keys, the same token for every
// request as a pod presents its projected token until it is refreshed.
func prepareFederated(ctx context.Context, s *setup) (func(int) Op, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	signer, err := jwt.NewSigner(k)
	if err != nil {
		return nil, err
	}
	issuer := "https://kubernetes.bench-" + s.runID + ".invalid"
	if _, err := s.federation(ctx, "k8s", k.Public(), map[string]any{"issuer": issuer, "key_source": "jwks", "audience": "permiso"},
		"system:serviceaccount:bench:bot", wire.AuthFederatedJWT); err != nil {
		return nil, err
	}
	now := time.Now()
	// RS256 as a cluster signs (the Signer's RSA choice is PS256, which
	// Permiso accepts equally; the cost of the check is the same order).
	a, err := signer.Compact(jwt.Header{KeyID: "bench"}, map[string]any{"iss": issuer, "sub": "system:serviceaccount:bench:bot",
		"aud": []string{"permiso"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{"namespace": "bench", "serviceaccount": map[string]any{"name": "bot"}}})
	if err != nil {
		return nil, err
	}
	op := assertionOp(s.base, wire.AssertionTypeJWTBearer, func() (string, error) { return a, nil })
	return op, s.probe(ctx, op)
}

// prepareSPIFFE: a JWT-SVID (ES256) sent as a jwt-spiffe assertion, the
// trust's keys in a static SPIFFE bundle, the same SVID for every request.
func prepareSPIFFE(ctx context.Context, s *setup) (func(int) Op, error) {
	iss, err := s.issuerOf(ctx)
	if err != nil {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := jwt.NewSigner(k)
	if err != nil {
		return nil, err
	}
	td := "bench-" + s.runID + ".invalid"
	id := "spiffe://" + td + "/bench/bot"
	if _, err := s.federation(ctx, "spiffe", k.Public(), map[string]any{"key_source": "spiffe", "trust_domain": td}, id, wire.AuthSPIFFEJWT); err != nil {
		return nil, err
	}
	now := time.Now()
	svid, err := signer.Compact(jwt.Header{KeyID: "bench", Type: "JWT"}, map[string]any{"sub": id, "aud": []string{iss},
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	op := assertionOp(s.base, wire.AssertionTypeJWTSPIFFE, func() (string, error) { return svid, nil })
	return op, s.probe(ctx, op)
}

// federation creates a trust with pub as its static key (a JWKS, or a
// SPIFFE bundle for the spiffe source), a client of method and its binding
// to subject.
func (s *setup) federation(ctx context.Context, name string, pub crypto.PublicKey, trust map[string]any, subject, method string) (string, error) {
	jwks, err := publicJWKS(pub, "bench")
	if err != nil {
		return "", err
	}
	trust["name"] = "bench-" + name + "-" + s.runID
	if trust["key_source"] == "spiffe" {
		jwks["keys"].([]any)[0].(map[string]any)["use"] = "jwt-svid"
		trust["spiffe_bundle"] = jwks
	} else {
		trust["jwks"] = jwks
	}
	trust["max_token_age"] = 86400
	if _, err := s.adminJSON(ctx, "/api/v1/trusts", trust, http.StatusCreated); err != nil {
		return "", markUnavailable(fmt.Errorf("create trust: %w", err))
	}
	id, err := s.keylessClient(ctx, name, map[string]any{"token_endpoint_auth_method": method})
	if err != nil {
		return "", err
	}
	if _, err := s.adminJSON(ctx, "/api/v1/trusts/"+trust["name"].(string)+"/bindings",
		map[string]any{"client_id": id, "subject": subject}, http.StatusCreated); err != nil {
		return "", fmt.Errorf("bind: %w", err)
	}
	return id, nil
}

// publicJWKS returns {"keys": [the JWK of pub, with kid]}.
func publicJWKS(pub crypto.PublicKey, kid string) (map[string]any, error) {
	raw, err := jose.JSONWebKey{Key: pub, KeyID: kid, Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return map[string]any{"keys": []any{m}}, nil
}

// mtlsBench is the certificate material of the tls-client-auth scenario: a
// client CA the server is started with, and a client certificate it
// issued, forwarded as a trusted proxy (nginx) forwards it.
type mtlsBench struct {
	caFile  string
	escaped string // the leaf as nginx's $ssl_client_escaped_cert
	dns     string
	// A self-signed certificate and its public key (self-signed-tls).
	selfEscaped string
	selfPub     crypto.PublicKey
}

// tlsServerArgs are the serve options the tls-client-auth scenario needs.
func (m *mtlsBench) serverArgs() []string {
	return []string{"--client-ca-file=" + m.caFile, "--client-cert-header=X-SSL-Client-Cert",
		"--client-cert-header-format=nginx", "--trusted-proxies=127.0.0.1/32,::1/128", "--mtls-base-url=https://mtls.bench.invalid"}
}

// prepareTLSClientAuth: tls_client_auth with the certificate a proxy
// forwards; Permiso parses it, verifies its chain to the client CA and
// matches the registered dNSName on every request. TLS handshakes are the
// proxy's and are not measured.
func prepareTLSClientAuth(ctx context.Context, s *setup) (func(int) Op, error) {
	if s.mtls == nil {
		return nil, &unavailableError{errors.New("needs a server the benchmark starts (it passes --client-ca-file and --client-cert-header)")}
	}
	id, err := s.keylessClient(ctx, "mtls", map[string]any{"token_endpoint_auth_method": wire.AuthTLSClientAuth,
		"tls_client_auth_san_dns": s.mtls.dns})
	if err != nil {
		return nil, err
	}
	op := func(int) Op {
		r := formRequest(s.base, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", "")
		r.header.Set("X-SSL-Client-Cert", s.mtls.escaped)
		return okOp(r, checkToken)
	}
	return op, s.probe(ctx, op)
}

// prepareSelfSignedTLS: self_signed_tls_client_auth with a self-signed
// certificate a proxy forwards; Permiso parses it and finds its public key
// among the client's registered keys. No chain is verified.
func prepareSelfSignedTLS(ctx context.Context, s *setup) (func(int) Op, error) {
	if s.mtls == nil {
		return nil, &unavailableError{errors.New("needs a server the benchmark starts (it passes --client-cert-header)")}
	}
	jwks, err := publicJWKS(s.mtls.selfPub, "bench-self")
	if err != nil {
		return nil, err
	}
	id, err := s.keylessClient(ctx, "self-tls", map[string]any{"token_endpoint_auth_method": wire.AuthSelfSignedTLSClientAuth, "jwks": jwks})
	if err != nil {
		return nil, err
	}
	op := func(int) Op {
		r := formRequest(s.base, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", "")
		r.header.Set("X-SSL-Client-Cert", s.mtls.selfEscaped)
		return okOp(r, checkToken)
	}
	return op, s.probe(ctx, op)
}
