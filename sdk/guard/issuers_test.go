package guard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/internal/leakcheck"
	"github.com/permiso-auth/permiso/sdk/internal/testissuer"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// hostRecorder is an http.RoundTripper that records the hosts it reaches.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.hosts = append(h.hosts, r.URL.Host)
	h.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (h *hostRecorder) reached(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.hosts, host)
}

// newIssuersGuard starts two issuers (both publish their first key as
// "k1", with different key material), lets prep change them, and starts a
// guard accepting both.
func newIssuersGuard(t *testing.T, prep func(a, b *testissuer.Issuer)) (a, b *testissuer.Issuer, g *Guard, rec *hostRecorder) {
	t.Helper()
	a, b = testissuer.New(), testissuer.New()
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	if prep != nil {
		prep(a, b)
	}
	rec = &hostRecorder{}
	g, err := New(context.Background(), Config{
		Issuers:    []string{a.URL, b.URL},
		Audience:   testAudience,
		HTTPClient: &http.Client{Transport: rec, Timeout: 5 * time.Second},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(g.Close)
	waitReady(t, g)
	return a, b, g, rec
}

func TestIssuersAcceptEachIssuerWithItsOwnKeys(t *testing.T) {
	a, b, g, _ := newIssuersGuard(t, nil)
	for _, iss := range []*testissuer.Issuer{a, b} {
		c, err := g.Verify(context.Background(), iss.Mint(iss.Claims("svc", testAudience, "trade:read")))
		if err != nil {
			t.Fatalf("token of %s: %v", iss.URL, err)
		}
		if c.Issuer != iss.URL {
			t.Fatalf("claims issuer = %q, want %q", c.Issuer, iss.URL)
		}
	}
	st := g.Status()
	if !st.Ready || len(st.Issuers) != 2 || st.Issuers[0].Issuer != a.URL || st.Issuers[1].Issuer != b.URL ||
		!st.Issuers[0].Ready || !st.Issuers[1].Ready {
		t.Fatalf("Status() = %+v", st)
	}
}

func TestIssuersKidNeverCrossesIssuers(t *testing.T) {
	var extra *testissuer.Key
	a, b, g, _ := newIssuersGuard(t, func(a, _ *testissuer.Issuer) { extra = a.AddKey("ES256") })
	if a.SigningKey().ID != b.SigningKey().ID {
		t.Fatalf("test needs both issuers to publish the same kid; got %s and %s", a.SigningKey().ID, b.SigningKey().ID)
	}
	// Signed by a's key "k1" but claiming b: b publishes its own "k1".
	claimsB := b.Claims("svc", testAudience)
	forged := a.Mint(claimsB)
	if _, err := g.Verify(context.Background(), forged); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a's key under b's iss: err = %v, want ErrInvalidToken", err)
	}
	// A kid only a publishes, claiming b: b's key set does not have it.
	onlyA := a.MintWith(extra, wire.AccessTokenJWTType, b.Claims("svc", testAudience))
	if _, err := g.Verify(context.Background(), onlyA); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("a's kid under b's iss: err = %v, want ErrInvalidToken", err)
	}
	// The same token claiming a verifies: the refusals above were the issuer's.
	if _, err := g.Verify(context.Background(), a.MintWith(extra, wire.AccessTokenJWTType, a.Claims("svc", testAudience))); err != nil {
		t.Fatalf("a's new key under a's iss: %v", err)
	}
}

func TestIssuersRefuseUnlistedIssuerWithoutFetching(t *testing.T) {
	a, _, g, rec := newIssuersGuard(t, nil)
	other := testissuer.New()
	defer other.Close()
	tests := map[string]string{
		"unlisted issuer": other.Mint(other.Claims("svc", testAudience)),
		"a's key, unlisted iss": a.Mint(func() wire.Claims {
			c := a.Claims("svc", testAudience)
			c.Issuer = other.URL
			return c
		}()),
		"issuer with a trailing slash": a.Mint(func() wire.Claims {
			c := a.Claims("svc", testAudience)
			c.Issuer = a.URL + "/"
			return c
		}()),
		"no iss": a.Mint(func() wire.Claims {
			c := a.Claims("svc", testAudience)
			c.Issuer = ""
			return c
		}()),
		"not a JWT": "opaque-token",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := g.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	if rec.reached(strings.TrimPrefix(other.URL, "http://")) {
		t.Fatal("the guard fetched from an issuer it does not accept")
	}
}

func TestIssuersRequireExposesTheIssuer(t *testing.T) {
	a, b, g, _ := newIssuersGuard(t, nil)
	h := g.Require(AllOf("trade:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, Issuer(r.Context()))
	}))
	for _, iss := range []*testissuer.Issuer{a, b} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		req.Header.Set("Authorization", "Bearer "+iss.Mint(iss.Claims("svc", testAudience, "trade:read")))
		// A header naming another tenant changes nothing.
		req.Header.Set("X-Tenant", "https://evil.example.com")
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code != http.StatusOK || rr.Body.String() != iss.URL {
			t.Fatalf("status %d body %q, want 200 %q", rr.Code, rr.Body.String(), iss.URL)
		}
	}
	if Issuer(context.Background()) != "" {
		t.Fatal("Issuer of a context without claims is not empty")
	}
}

func TestIssuersSingleGuardRefusesOtherIssuer(t *testing.T) {
	a, g := newTestGuard(t, nil)
	b := testissuer.New()
	defer b.Close()
	if _, err := g.Verify(context.Background(), b.Mint(b.Claims("svc", testAudience))); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token of another issuer: err = %v, want ErrInvalidToken", err)
	}
	if st := g.Issuers(); len(st) != 1 || st[0].Issuer != a.URL {
		t.Fatalf("Issuers() = %+v", st)
	}
}

func TestIssuersConfig(t *testing.T) {
	tests := map[string]Config{
		"both":      {Issuer: "https://a", Issuers: []string{"https://b"}, Audience: "x"},
		"neither":   {Audience: "x"},
		"duplicate": {Issuers: []string{"https://a", "https://a"}, Audience: "x"},
		"empty":     {Issuers: []string{"https://a", ""}, Audience: "x"},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			if g, err := New(context.Background(), cfg); err == nil {
				g.Close()
				t.Fatal("New accepted the config")
			}
		})
	}
}

func TestIssuersCloseStopsEveryIssuer(t *testing.T) {
	a, b := testissuer.New(), testissuer.New()
	defer a.Close()
	defer b.Close()
	g, err := New(context.Background(), Config{Issuers: []string{a.URL, b.URL}, Audience: testAudience, RevocationPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	leakcheck.Check(t, "guard.(*Guard)")
}
