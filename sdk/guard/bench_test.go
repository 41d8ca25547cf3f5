package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
)

// The three benchmarks below use the same ES256 token so that their ratios
// are meaningful: a cached verification, a full verification (cache
// disabled) and the bare signature check alone.

func benchToken(b *testing.B, cacheSize int) (*Guard, string) {
	b.Helper()
	iss, g := newTestGuard(b, func(c *Config) { c.CacheSize = cacheSize })
	tok := iss.Mint(iss.Claims("svc", testAudience, "trade:read", "account:read"))
	if _, err := g.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return g, tok
}

func BenchmarkVerifyCached(b *testing.B) {
	g, tok := benchToken(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	g, tok := benchToken(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyFresh(b *testing.B) {
	g, tok := benchToken(b, -1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBareES256 is the floor: decode the signature, hash the signing
// input and run ecdsa.Verify, with no parsing or claim checks.
func BenchmarkBareES256(b *testing.B) {
	g, tok := benchToken(b, -1)
	key, err := g.keys.Key(context.Background(), "k1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		j := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[j+1:])
		if err != nil {
			b.Fatal(err)
		}
		d := sha256.Sum256([]byte(tok[:j]))
		if !ecdsa.Verify(key.Public.(*ecdsa.PublicKey), d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			b.Fatal("bad signature")
		}
	}
}
