package remotekeys_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/jwttest"
	"github.com/permiso-auth/permiso/internal/mtls/mtlstest"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// keyServer serves a JWKS that the test can change, counting fetches.
type keyServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	header  http.Header
	status  int
	fetches atomic.Int32
}

func newKeyServer(t *testing.T, body []byte) *keyServer {
	ks := &keyServer{body: body, header: http.Header{}, status: 200}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.fetches.Add(1)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		for k, v := range ks.header {
			w.Header()[k] = v
		}
		w.WriteHeader(ks.status)
		w.Write(ks.body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

func (ks *keyServer) set(body []byte, status int, cacheControl string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.body, ks.status = body, status
	ks.header.Set("Cache-Control", cacheControl)
}

func newCache(t *testing.T, clk *clock, allow bool) *remotekeys.Cache {
	cfg := outbound.Config{Timeout: 5 * time.Second, MaxBodyBytes: 64 << 10}
	if allow {
		cfg.Allow = outbound.Loopback
	}
	return remotekeys.New(remotekeys.Config{Client: outbound.New(cfg), Now: clk.Now,
		RefetchInterval: time.Minute, MinTTL: time.Minute, DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour, MaxStale: 2 * time.Hour})
}

func TestJWKSCachedByMaxAgeAndRefetchedOnUnknownKid(t *testing.T) {
	k1, k2 := jwttest.NewKey(t, "ES256", "k1"), jwttest.NewKey(t, "EdDSA", "k2")
	ks := newKeyServer(t, jwttest.JWKS(k1))
	ks.set(jwttest.JWKS(k1), 200, "public, max-age=600")
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	set := newCache(t, clk, true).JWKS(ks.URL)
	ctx := context.Background()

	if k, err := set.Key(ctx, "k1"); err != nil || k.ID != "k1" {
		t.Fatalf("k1: %v, %v", k, err)
	}
	set.Key(ctx, "k1")
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for two lookups, want 1", n)
	}
	// Right after a fetch, an unknown kid is just unknown.
	if _, err := set.Key(ctx, "k2"); !errors.Is(err, jwt.ErrUnknownKey) || ks.fetches.Load() != 1 {
		t.Fatalf("k2 right after the fetch: %v", err)
	}
	// Later, an unknown kid refetches once...
	clk.Add(61 * time.Second)
	if _, err := set.Key(ctx, "k2"); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("k2 before rotation: %v", err)
	}
	// ... and not again within the interval, however many tokens ask.
	for range 20 {
		set.Key(ctx, "invented")
	}
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (one refetch per interval)", n)
	}
	ks.set(jwttest.JWKS(k1, k2), 200, "max-age=600")
	clk.Add(61 * time.Second)
	if k, err := set.Key(ctx, "k2"); err != nil || k.ID != "k2" {
		t.Fatalf("k2 after rotation: %v, %v", k, err)
	}
	if n := ks.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	// max-age=600: past it the set is fetched again.
	clk.Add(601 * time.Second)
	set.Key(ctx, "k1")
	if n := ks.fetches.Load(); n != 4 {
		t.Fatalf("%d fetches after max-age, want 4", n)
	}
}

func TestTTLIsBounded(t *testing.T) {
	k1 := jwttest.NewKey(t, "ES256", "k1")
	ks := newKeyServer(t, jwttest.JWKS(k1))
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	c := newCache(t, clk, true)
	ctx := context.Background()
	for _, tc := range []struct {
		cc    string
		after time.Duration // still cached just before, refetched after
	}{
		{"no-store", time.Minute},            // MinTTL
		{"max-age=5", time.Minute},           // raised to MinTTL
		{"max-age=99999999", 24 * time.Hour}, // lowered to MaxTTL
		{"", time.Hour},                      // DefaultTTL
	} {
		ks.set(jwttest.JWKS(k1), 200, tc.cc)
		set := c.JWKS(ks.URL + "?" + tc.cc) // a source per case
		set.Key(ctx, "k1")
		n := ks.fetches.Load()
		clk.Add(tc.after - time.Second)
		set.Key(ctx, "k1")
		if ks.fetches.Load() != n {
			t.Fatalf("%q: refetched before %v", tc.cc, tc.after)
		}
		clk.Add(2 * time.Second)
		set.Key(ctx, "k1")
		if ks.fetches.Load() != n+1 {
			t.Fatalf("%q: not refetched after %v", tc.cc, tc.after)
		}
	}
}

func TestStaleKeysServeWhileTheServerFails(t *testing.T) {
	k1 := jwttest.NewKey(t, "ES256", "k1")
	ks := newKeyServer(t, jwttest.JWKS(k1))
	ks.set(jwttest.JWKS(k1), 200, "max-age=60")
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	set := newCache(t, clk, true).JWKS(ks.URL)
	ctx := context.Background()
	if _, err := set.Key(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	ks.set([]byte("oops"), 500, "")
	clk.Add(2 * time.Minute)
	if _, err := set.Key(ctx, "k1"); err != nil {
		t.Fatalf("stale key not served: %v", err)
	}
	clk.Add(3 * time.Hour) // past MaxStale
	_, err := set.Key(ctx, "k1")
	if !errors.Is(err, remotekeys.ErrUnavailable) || errors.Is(err, jwt.ErrInvalid) {
		t.Fatalf("past MaxStale: %v, want ErrUnavailable (and not ErrInvalid)", err)
	}
}

func TestFetchFailures(t *testing.T) {
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	ctx := context.Background()
	big := `{"keys":[` + strings.Repeat(`{"kty":"oct","k":"AAAA"},`, 5000) + `{"kty":"oct","k":"AAAA"}]}`
	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"not found":   {`{}`, 404},
		"not JSON":    {`<html>`, 200},
		"no keys":     {`{"keys":[]}`, 200},
		"too large":   {big, 200},
		"secret keys": {`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, 200},
	} {
		ks := newKeyServer(t, []byte(tc.body))
		ks.set([]byte(tc.body), tc.status, "")
		_, err := newCache(t, clk, true).JWKS(ks.URL).Key(ctx, "k1")
		if !errors.Is(err, remotekeys.ErrUnavailable) {
			t.Fatalf("%s: %v, want ErrUnavailable", name, err)
		}
	}
}

// The address check is applied to the address dialled: without an
// explicit allowance a jwks_uri on loopback is never fetched, and neither
// is one a public URL redirects to.
func TestInternalAddressesAreNotFetched(t *testing.T) {
	k1 := jwttest.NewKey(t, "ES256", "k1")
	ks := newKeyServer(t, jwttest.JWKS(k1))
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	_, err := newCache(t, clk, false).JWKS(ks.URL).Key(context.Background(), "k1")
	if !errors.Is(err, outbound.ErrBlocked) || ks.fetches.Load() != 0 {
		t.Fatalf("loopback jwks_uri: %v (%d fetches), want ErrBlocked and none", err, ks.fetches.Load())
	}
	if d := remotekeys.Describe(err); !strings.Contains(d, "internal") {
		t.Fatalf("Describe = %q", d)
	}
}

func TestOIDCDiscovery(t *testing.T) {
	k1 := jwttest.NewKey(t, "RS256", "k8s-1")
	var issuer string
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": srv.URL + "/openid/v1/jwks"})
	})
	mux.HandleFunc("/openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) { w.Write(jwttest.JWKS(k1)) })
	srv = httptest.NewServer(mux)
	defer srv.Close()
	clk := &clock{now: time.Unix(2_000_000_000, 0)}

	issuer = srv.URL
	if k, err := newCache(t, clk, true).OIDC(srv.URL).Key(context.Background(), "k8s-1"); err != nil || k.ID != "k8s-1" {
		t.Fatalf("discovery: %v, %v", k, err)
	}
	issuer = "https://someone-else.example.com"
	if _, err := newCache(t, clk, true).OIDC(srv.URL).Key(context.Background(), "k8s-1"); !errors.Is(err, remotekeys.ErrUnavailable) {
		t.Fatalf("issuer mismatch: %v, want ErrUnavailable", err)
	}
}

func TestSPIFFEBundle(t *testing.T) {
	jk := jwttest.NewKey(t, "ES256", "svid-1")
	ca := mtlstest.NewCA(t, "spiffe://example.org")
	jwk := jk.PublicJWK()
	jwk["use"] = "jwt-svid"
	delete(jwk, "alg")
	x5 := jwttest.PublicJWK(ca.Cert.PublicKey)
	x5["use"], x5["x5c"] = "x509-svid", []string{base64.StdEncoding.EncodeToString(ca.Cert.Raw)}
	bundle, _ := json.Marshal(map[string]any{"keys": []any{x5, jwk}, "spiffe_sequence": 7, "spiffe_refresh_hint": 120})

	b, err := remotekeys.ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if b.Sequence != 7 || b.RefreshHint != 2*time.Minute || len(b.Authorities()) != 1 || b.X509 == nil {
		t.Fatalf("bundle: %+v", b)
	}
	if k, err := b.JWT.Key(context.Background(), "svid-1"); err != nil || k.ID != "svid-1" {
		t.Fatalf("JWT-SVID key: %v, %v", k, err)
	}
	if len(b.JWT.Keys()) != 1 {
		t.Fatalf("%d JWT keys; the X.509 authority must not verify JWTs", len(b.JWT.Keys()))
	}

	ks := newKeyServer(t, bundle)
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	set := newCache(t, clk, true).SPIFFE(ks.URL)
	if _, err := set.Key(context.Background(), "svid-1"); err != nil {
		t.Fatal(err)
	}
	clk.Add(119 * time.Second)
	set.Key(context.Background(), "svid-1")
	clk.Add(2 * time.Second)
	set.Key(context.Background(), "svid-1")
	if n := ks.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (refresh hint 120s)", n)
	}
	for name, bad := range map[string]string{
		"no keys member": `{}`,
		"only sig keys":  fmt.Sprintf(`{"keys":[%s]}`, jwttest.JWKS(jk)[9:len(jwttest.JWKS(jk))-2]),
	} {
		if _, err := remotekeys.ParseBundle([]byte(bad)); err == nil {
			t.Fatalf("%s: parsed", name)
		}
	}
}

func TestConcurrentLookupsShareOneFetch(t *testing.T) {
	k1 := jwttest.NewKey(t, "ES256", "k1")
	ks := newKeyServer(t, jwttest.JWKS(k1))
	clk := &clock{now: time.Unix(2_000_000_000, 0)}
	set := newCache(t, clk, true).JWKS(ks.URL)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := set.Key(context.Background(), "k1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := ks.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for 20 concurrent lookups", n)
	}
}
