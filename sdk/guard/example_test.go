package guard_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// This example protects two routes of a service with different scopes and
// calls them with a token from an in-process issuer.
func ExampleGuard_Require() {
	issuer := testissuer.New() // stands in for Permiso
	defer issuer.Close()

	g, err := guard.New(context.Background(), guard.Config{
		Issuer:   issuer.URL,
		Audience: "https://mt5.example.com",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /api/v1/trades", g.Require(guard.AllOf("trade:read"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "trades of %s", guard.Subject(r.Context()))
		})))
	mux.Handle("POST /api/v1/trades", g.Require(guard.AllOf("trade:open"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	token := issuer.Mint(issuer.Claims("trading-bot", "https://mt5.example.com", "trade:read"))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/trades", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			fmt.Println(method, resp.StatusCode, string(body))
		} else {
			fmt.Println(method, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Output:
	// GET 200 trades of trading-bot
	// POST 403 Bearer realm="https://mt5.example.com", error="insufficient_scope", scope="trade:open"
}

// This example verifies a token outside HTTP, as a message consumer would.
func ExampleGuard_Verify() {
	issuer := testissuer.New()
	defer issuer.Close()
	g, err := guard.New(context.Background(), guard.Config{
		Issuer:         issuer.URL,
		Audience:       "https://mt5.example.com",
		RevocationPoll: 5 * time.Second, // follow the revocation list
	})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close()

	token := issuer.Mint(issuer.Claims("trading-bot", "https://mt5.example.com", "market:data"))
	for !g.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	claims, err := g.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.Scopes, wire.HasScope(claims.Scopes, "market:data"))
	// Output: trading-bot [market:data] true
}

// This example reads the claims of the current request inside a handler.
func ExampleClaimsFrom() {
	ctx := guard.WithClaims(context.Background(), &wire.Claims{Subject: "user-1", Roles: []string{"trader"}})
	if c, ok := guard.ClaimsFrom(ctx); ok {
		fmt.Println(c.Subject, guard.Roles(ctx))
	}
	// Output: user-1 [trader]
}

// This example checks requirements without HTTP, as an interceptor would.
func ExampleCheck() {
	claims := &wire.Claims{Scopes: []string{"admin:trades"}}
	fmt.Println(guard.Check(claims, guard.AllOf("read:trades")))
	fmt.Println(guard.Check(claims, guard.AnyOf("trade:open", "trade:close")))
	// Output:
	// <nil>
	// guard: insufficient_scope: One of these scopes is required: trade:open, trade:close
}
