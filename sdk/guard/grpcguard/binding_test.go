package grpcguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/permiso-auth/permiso/sdk/clientcert"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/guard/grpcguard"
	"github.com/permiso-auth/permiso/sdk/internal/certtest"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

const (
	checkMethod = "/grpc.health.v1.Health/Check"
	audience    = "https://mt5.example.com"
)

// serve starts a real gRPC server (the health service) behind the guard's
// interceptors on a loopback port and returns its address.
func serve(t *testing.T, g *guard.Guard, creds credentials.TransportCredentials) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := []grpc.ServerOption{grpc.ChainUnaryInterceptor(grpcguard.UnaryServerInterceptor(g, guard.AllOf("trade:read")))}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	srv := grpc.NewServer(opts...)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) healthpb.HealthClient {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func newGuard(t *testing.T, iss *testissuer.Issuer, edit func(*guard.Config)) *guard.Guard {
	t.Helper()
	cfg := guard.Config{Issuer: iss.URL, Audience: audience}
	if edit != nil {
		edit(&cfg)
	}
	g, err := guard.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// TestDPoPOverGRPC: the proof travels in "dpop" metadata, for htm POST and
// htu https://{:authority}/{full method}.
func TestDPoPOverGRPC(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	g := newGuard(t, iss, func(c *guard.Config) { c.DPoP.Nonce = true })
	addr := serve(t, g, nil)
	client := dial(t, addr, nil)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := dpop.NewSigner(k)
	claims := iss.Claims("bot", audience, "trade:read")
	claims.Cnf = &wire.Confirmation{JKT: key.Thumbprint()}
	tok := iss.Mint(claims)
	htu := "https://" + addr + checkMethod

	call := func(auth, htm, uri, nonce string) (codes.Code, string, metadata.MD) {
		md := metadata.Pairs("authorization", auth)
		if uri != "" {
			p, err := key.Proof(htm, uri, dpop.ProofOptions{AccessToken: tok, Nonce: nonce})
			if err != nil {
				t.Fatal(err)
			}
			md.Append(grpcguard.MetadataProof, p)
		}
		var hdr metadata.MD
		_, err := client.Check(metadata.NewOutgoingContext(context.Background(), md), &healthpb.HealthCheckRequest{}, grpc.Header(&hdr))
		return status.Code(err), status.Convert(err).Message(), hdr
	}
	code, msg, hdr := call("DPoP "+tok, "POST", htu, "")
	nonce := hdr.Get(grpcguard.MetadataNonce)
	if code != codes.Unauthenticated || !strings.HasPrefix(msg, "use_dpop_nonce") || len(nonce) != 1 {
		t.Fatalf("without a nonce: %v %q, nonce %v", code, msg, nonce)
	}
	if code, msg, _ := call("DPoP "+tok, "POST", htu, nonce[0]); code != codes.OK {
		t.Fatalf("with proof and nonce: %v %s", code, msg)
	}
	for _, tt := range []struct {
		name, auth, htm, uri, want string
	}{
		{"bound token as bearer", "Bearer " + tok, "POST", htu, "invalid_token"},
		{"no proof", "DPoP " + tok, "", "", "invalid_dpop_proof"},
		{"htm GET", "DPoP " + tok, "GET", htu, "invalid_dpop_proof"},
		{"htu of another method", "DPoP " + tok, "POST", "https://" + addr + "/grpc.health.v1.Health/Watch", "invalid_dpop_proof"},
		{"htu of another authority", "DPoP " + tok, "POST", "https://evil.example.com" + checkMethod, "invalid_dpop_proof"},
	} {
		code, msg, _ := call(tt.auth, tt.htm, tt.uri, nonce[0])
		if code != codes.Unauthenticated || !strings.HasPrefix(msg, tt.want) {
			t.Errorf("%s: %v %q, want Unauthenticated %s", tt.name, code, msg, tt.want)
		}
	}
}

// TestCertificateBindingOverGRPC: a certificate-bound token works only on a
// connection with its certificate.
func TestCertificateBindingOverGRPC(t *testing.T) {
	iss := testissuer.New()
	defer iss.Close()
	g := newGuard(t, iss, nil)
	ca := certtest.NewCA(t, "clients")
	mine, theirs := ca.Issue(t, "bot"), ca.Issue(t, "thief")
	serverTLS := certtest.ServerTLS(t, ca)
	addr := serve(t, g, credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{serverTLS}, ClientAuth: tls.RequestClientCert}))
	claims := iss.Claims("bot", audience, "trade:read")
	claims.Cnf = &wire.Confirmation{X5TS256: clientcert.Thumbprint(mine.Cert)}
	tok := iss.Mint(claims)
	for _, tt := range []struct {
		name string
		leaf *certtest.Leaf
		want codes.Code
	}{
		{"its certificate", mine, codes.OK},
		{"another certificate", theirs, codes.Unauthenticated},
		{"no certificate", nil, codes.Unauthenticated},
	} {
		cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
		if tt.leaf != nil {
			cfg.Certificates = []tls.Certificate{tt.leaf.TLS()}
		}
		client := dial(t, addr, credentials.NewTLS(cfg))
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		if status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
