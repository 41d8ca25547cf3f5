package clientcredentials_test

import (
	"context"
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
