package clientcredentials_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
)

// startIssuer stands in for Permiso: an issuer with the client "trading-bot".
func startIssuer() *testissuer.Issuer {
	iss := testissuer.New()
	iss.AddClient("trading-bot", testissuer.Client{
		Secret:    "pms_example",
		Scopes:    []string{"market:data", "trade:open", "trade:close"},
		Audiences: []string{"https://mt5.example.com"},
	})
	return iss
}

// This example keeps a token for one audience and scope set; Token returns
// the cached token until it is due for refresh.
func ExampleConfig_TokenSource() {
	iss := startIssuer()
	defer iss.Close()

	cfg := clientcredentials.Config{
		IssuerURL:    iss.URL,
		ClientID:     "trading-bot",
		ClientSecret: "pms_example",
		Scopes:       []string{"market:data"},
		Audience:     "https://mt5.example.com",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the background refresh
	src := cfg.TokenSource(ctx)

	a, err := src.Token()
	if err != nil {
		log.Fatal(err)
	}
	b, _ := src.Token()
	fmt.Println(a.TokenType, a.AccessToken == b.AccessToken, a.Extra("scope"))
	// Output: Bearer true market:data
}

// This example calls a protected API with an HTTP client that adds the
// bearer token to every request.
func ExampleConfig_Client() {
	iss := startIssuer()
	defer iss.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ey"))
	}))
	defer api.Close()

	cfg := clientcredentials.Config{IssuerURL: iss.URL, ClientID: "trading-bot", ClientSecret: "pms_example"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := cfg.Client(ctx).Get(api.URL + "/api/v1/market/EURUSD")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 true
}

// This example gets tokens for other scopes from the same source; each
// (scopes, audience) pair is cached on its own.
func ExampleSource_TokenFor() {
	iss := startIssuer()
	defer iss.Close()
	cfg := clientcredentials.Config{IssuerURL: iss.URL, ClientID: "trading-bot", ClientSecret: "pms_example"}
	src := cfg.TokenSource(context.Background())
	defer src.Close()

	tok, err := src.TokenFor(context.Background(), "https://mt5.example.com", "trade:open", "trade:close")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.Extra("scope"))
	// Output: trade:close trade:open
}

// This example shows the typed error of a refused client.
func ExampleConfig_Token() {
	iss := startIssuer()
	defer iss.Close()
	cfg := clientcredentials.Config{IssuerURL: iss.URL, ClientID: "trading-bot", ClientSecret: "wrong"}
	_, err := cfg.Token(context.Background())
	fmt.Println(err)
	// Output: oauth2: invalid_client: Client authentication failed (HTTP 401)
}

// This example reads the client's configuration from PERMISO_* variables.
func ExampleFromEnv() {
	cfg := clientcredentials.FromEnv()
	cfg.Audience = "https://mt5.example.com"
	fmt.Println(cfg.Audience)
	// Output: https://mt5.example.com
}

// This example authenticates with a key pair instead of a secret
// (private_key_jwt, RFC 7523): every token request carries a fresh
// assertion signed with the private key, whose public half was registered
// with `permiso clients create --private-key-jwt`. The key may be any
// crypto.Signer (Config.PrivateKey), such as one an HSM or a KMS holds.
func ExampleConfig_privateKey() {
	cfg := clientcredentials.Config{
		IssuerURL:      "https://auth.example.com",
		ClientID:       "trading-bot",
		PrivateKeyFile: "/etc/trading-bot/permiso.key.pem",
		Audience:       "https://mt5.example.com",
	}
	client := cfg.Client(context.Background())
	_ = client // calls to mt5-api carry a token
}

// This example runs on Kubernetes with no Permiso credential at all: the
// kubelet projects a service account token for the audience "permiso" into
// the pod, and every token request sends the file's current content. The
// client is found by the cluster's trust and its binding (permiso trusts
// bind), so ClientID may stay empty.
func ExampleConfig_assertionFile() {
	cfg := clientcredentials.Config{
		IssuerURL:     "https://auth.example.com",
		AssertionFile: "/var/run/secrets/permiso/token",
		Audience:      "https://mt5.example.com",
	}
	src := cfg.TokenSource(context.Background())
	defer src.Close()
}

// This example authenticates by its TLS client certificate (RFC 8705
// tls_client_auth): no secret is sent, and the token endpoint is taken from
// the server's mtls_endpoint_aliases.
func ExampleConfig_tlsConfig() {
	cert, err := tls.LoadX509KeyPair("/etc/trading-bot/tls.crt", "/etc/trading-bot/tls.key")
	if err != nil {
		log.Print(err)
		return
	}
	cfg := clientcredentials.Config{
		IssuerURL: "https://auth.example.com",
		ClientID:  "trading-bot",
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
	}
	_ = cfg.Client(context.Background())
}
