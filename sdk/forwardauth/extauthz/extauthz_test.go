package extauthz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/forwardauth"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/certtest"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const rules = `
rules:
  - {path: /health, methods: [GET], public: true}
  - {path: /api/v1/trades, methods: [GET], audience: "https://mt5.example.com", all_of: [trade:read]}
  - {path: /api/v1/trades, methods: [POST], audience: "https://mt5.example.com", all_of: [trade:open]}
`

// startServer runs the Authorization service on a loopback port and
// returns a client speaking Envoy's protocol to it.
func startServer(t *testing.T) (*testissuer.Issuer, authv3.AuthorizationClient) {
	iss := testissuer.New()
	t.Cleanup(iss.Close)
	tab, err := forwardauth.Parse(strings.NewReader(rules), "test")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := forwardauth.New(context.Background(), forwardauth.Config{
		Guard: guard.Config{Issuer: iss.URL, RevocationPoll: time.Second}, Table: tab})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	deadline := time.Now().Add(10 * time.Second)
	for !svc.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("service not ready")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	New(svc).Register(g)
	go g.Serve(ln)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return iss, authv3.NewAuthorizationClient(conn)
}

func check(t *testing.T, c authv3.AuthorizationClient, method, path string, headers map[string]string) *authv3.CheckResponse {
	t.Helper()
	if headers == nil {
		headers = map[string]string{}
	}
	headers[":method"], headers[":path"], headers[":authority"] = method, path, "api.example.com"
	resp, err := c.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: "api.example.com", Scheme: "https", Protocol: "HTTP/1.1",
			Headers: headers,
		}},
	}})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}

func TestCheck(t *testing.T) {
	iss, c := startServer(t)
	tok := iss.Mint(iss.Claims("trading-bot", "https://mt5.example.com", "trade:read"))
	other := iss.Mint(iss.Claims("trading-bot", "https://other.example.com", "trade:read"))

	t.Run("allowed sets identity and removes the rest", func(t *testing.T) {
		resp := check(t, c, "GET", "/api/v1/trades?limit=5", map[string]string{"authorization": "Bearer " + tok,
			"x-auth-subject": "spoofed"})
		ok := resp.GetOkResponse()
		if codes.Code(resp.GetStatus().GetCode()) != codes.OK || ok == nil {
			t.Fatalf("got %v", resp)
		}
		set := map[string]string{}
		for _, h := range ok.GetHeaders() {
			set[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		if set["X-Auth-Subject"] != "trading-bot" || set["X-Auth-Scopes"] != "trade:read" || set["X-Auth-Token-Kind"] != "service" {
			t.Errorf("headers %v", set)
		}
		if !strings.Contains(strings.Join(ok.GetHeadersToRemove(), ","), "X-Auth-Actor") {
			t.Errorf("headers_to_remove %v lacks X-Auth-Actor", ok.GetHeadersToRemove())
		}
	})
	t.Run("public removes every identity header", func(t *testing.T) {
		resp := check(t, c, "GET", "/health", map[string]string{"x-auth-subject": "admin"})
		ok := resp.GetOkResponse()
		if ok == nil || len(ok.GetHeaders()) != 0 || len(ok.GetHeadersToRemove()) != 7 {
			t.Fatalf("got %v", resp)
		}
	})
	for _, tc := range []struct {
		name, method, path, token string
		status                    int
		code                      codes.Code
		error, challenge          string
	}{
		{"no token", "GET", "/api/v1/trades", "", 401, codes.Unauthenticated, "unauthorized", `Bearer realm="https://mt5.example.com"`},
		{"wrong audience", "GET", "/api/v1/trades", other, 401, codes.Unauthenticated, "invalid_token", `error="invalid_token"`},
		{"missing scope", "POST", "/api/v1/trades", tok, 403, codes.PermissionDenied, "insufficient_scope", `scope="trade:open"`},
		{"no rule", "GET", "/admin", tok, 403, codes.PermissionDenied, "access_denied", ""},
		{"dot segments", "GET", "/health/../api/v1/trades", tok, 403, codes.PermissionDenied, "invalid_request", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.token != "" {
				h["authorization"] = "Bearer " + tc.token
			}
			resp := check(t, c, tc.method, tc.path, h)
			d := resp.GetDeniedResponse()
			if codes.Code(resp.GetStatus().GetCode()) != tc.code || d == nil || int(d.GetStatus().GetCode()) != tc.status {
				t.Fatalf("got %v", resp)
			}
			var body struct {
				Error   string   `json:"error"`
				Missing []string `json:"missing_scopes"`
			}
			if err := json.Unmarshal([]byte(d.GetBody()), &body); err != nil || body.Error != tc.error {
				t.Fatalf("body %q: %v", d.GetBody(), err)
			}
			challenge := ""
			for _, h := range d.GetHeaders() {
				if h.GetHeader().GetKey() == "WWW-Authenticate" {
					challenge = h.GetHeader().GetValue()
				}
			}
			if !strings.Contains(challenge, tc.challenge) {
				t.Errorf("WWW-Authenticate %q lacks %q", challenge, tc.challenge)
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		cl := iss.Claims("trading-bot", "https://mt5.example.com", "trade:read")
		tok := iss.Mint(cl)
		if resp := check(t, c, "GET", "/api/v1/trades", map[string]string{"authorization": "Bearer " + tok}); resp.GetOkResponse() == nil {
			t.Fatalf("before revocation: %v", resp)
		}
		iss.Revoke(cl.ID, cl.Expiry)
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp := check(t, c, "GET", "/api/v1/trades", map[string]string{"authorization": "Bearer " + tok})
			if codes.Code(resp.GetStatus().GetCode()) == codes.Unauthenticated {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("revoked token still allowed")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestCheckBinding: a DPoP proof in the forwarded headers and the peer
// certificate Envoy includes (include_peer_certificate) are checked against
// the token's binding.
func TestCheckBinding(t *testing.T) {
	iss, c := startServer(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := dpop.NewSigner(k)
	cl := iss.Claims("trading-bot", "https://mt5.example.com", "trade:read")
	cl.Cnf = &wire.Confirmation{JKT: key.Thumbprint()}
	bound := iss.Mint(cl)
	ca := certtest.NewCA(t, "clients")
	mine, theirs := ca.Issue(t, "bot"), ca.Issue(t, "thief")
	cc := iss.Claims("trading-bot", "https://mt5.example.com", "trade:read")
	cc.Cnf = &wire.Confirmation{X5TS256: clientcert.Thumbprint(mine.Cert)}
	certBound := iss.Mint(cc)

	proof, _ := key.Proof("GET", "https://api.example.com/api/v1/trades", dpop.ProofOptions{AccessToken: bound})
	if resp := check(t, c, "GET", "/api/v1/trades?x=1", map[string]string{"authorization": "DPoP " + bound, "dpop": proof}); resp.GetOkResponse() == nil {
		t.Fatalf("DPoP token with its proof: %v", resp)
	}
	if resp := check(t, c, "GET", "/api/v1/trades", map[string]string{"authorization": "Bearer " + bound}); resp.GetDeniedResponse() == nil {
		t.Fatalf("DPoP token as bearer: %v", resp)
	}
	withCert := func(l *certtest.Leaf) *authv3.CheckResponse {
		resp, err := c.Check(context.Background(), &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Certificate: l.Escaped()},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "GET", Path: "/api/v1/trades", Host: "api.example.com", Scheme: "https",
				Headers: map[string]string{"authorization": "Bearer " + certBound},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := withCert(mine); resp.GetOkResponse() == nil {
		t.Fatalf("certificate-bound token with its certificate: %v", resp)
	}
	if resp := withCert(theirs); resp.GetDeniedResponse() == nil {
		t.Fatalf("certificate-bound token with another certificate: %v", resp)
	}
}
