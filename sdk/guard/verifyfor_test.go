package guard

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestVerifyForChecksTheNamedAudienceOnEveryCall(t *testing.T) {
	iss, g := newTestGuard(t, func(c *Config) { c.Audience, c.AudiencePerCall = "", true })
	ctx := context.Background()
	tok := iss.Mint(iss.Claims("svc", "https://a.example", "trade:read"))
	// Twice each way: the second call is a cache hit, which must check the
	// audience again.
	for range 2 {
		if _, err := g.VerifyFor(ctx, tok, "https://a.example"); err != nil {
			t.Fatalf("VerifyFor(a) = %v", err)
		}
		if _, err := g.VerifyFor(ctx, tok, "https://b.example"); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("VerifyFor(b) = %v, want ErrInvalidToken", err)
		}
		if _, err := g.Verify(ctx, tok); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify without a configured audience = %v, want ErrInvalidToken", err)
		}
	}
}

func TestAudienceConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		problem string
	}{
		{"missing", Config{Issuer: "https://i"}, "Audience is required"},
		{"both", Config{Issuer: "https://i", Audience: "a", AudiencePerCall: true}, "Audience must be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.problem) {
				t.Fatalf("New = %v, want %q", err, tc.problem)
			}
		})
	}
}
