package guard

import (
	"context"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// BenchmarkDPoPCost measures, in the same run and interleaved so that load
// on the machine affects all three alike:
//
//   - bearer-ns: a request with a cached plain bearer token (Authorize);
//   - dpop-ns: a request with a cached DPoP-bound token and a fresh proof
//     (Authorize: the proof's signature, claims, thumbprint, ath, replay
//     cache);
//   - es256-ns: one ES256 verification of an access token (the guard's
//     jwt.Verifier on a token it has not cached);
//
// and reports extra/es256 = (dpop-ns − bearer-ns) / es256-ns, the cost of
// proof of possession in ES256 verifications (the goal is at most 1.5).
func BenchmarkDPoPCost(b *testing.B) {
	iss, g := newTestGuard(b, nil)
	key := newSigner(b)
	const uri = "https://mt5.example.com/orders"
	c := iss.Claims("bot", testAudience, "trade:read")
	c.Cnf = &wire.Confirmation{JKT: key.Thumbprint()}
	bound := iss.Mint(c)
	plain := iss.Mint(iss.Claims("bot", testAudience, "trade:read"))
	fresh := iss.Mint(iss.Claims("bot", testAudience, "trade:read"))
	ctx := context.Background()
	bearerReq := &Request{Authorization: "Bearer " + plain, Method: "GET", URI: uri}
	dpopReq := &Request{Authorization: "DPoP " + bound, Method: "GET", URI: uri}
	// Warm the token cache and the key set.
	for _, r := range []*Request{bearerReq, {Authorization: "DPoP " + bound, Method: "GET", URI: uri, DPoP: []string{proofFor(b, key, uri, bound)}}} {
		if _, _, err := g.Authorize(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := g.verifier.Verify(ctx, fresh); err != nil {
		b.Fatal(err)
	}
	const batch = 256
	proofs := make([]string, 0, batch)
	var bearerNS, dpopNS, esNS time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(proofs) == 0 {
			b.StopTimer()
			for range batch {
				proofs = append(proofs, proofFor(b, key, uri, bound))
			}
			b.StartTimer()
		}
		dpopReq.DPoP = proofs[len(proofs)-1:]
		proofs = proofs[:len(proofs)-1]

		t0 := time.Now()
		if _, _, err := g.Authorize(ctx, bearerReq); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, _, err := g.Authorize(ctx, dpopReq); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := g.verifier.Verify(ctx, fresh); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		bearerNS += t1.Sub(t0)
		dpopNS += t2.Sub(t1)
		esNS += t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(bearerNS)/n, "bearer-ns")
	b.ReportMetric(float64(dpopNS)/n, "dpop-ns")
	b.ReportMetric(float64(esNS)/n, "es256-ns")
	b.ReportMetric(float64(dpopNS-bearerNS)/float64(esNS), "extra/es256")
}

func proofFor(b *testing.B, key *dpop.Signer, uri, tok string) string {
	p, err := key.Proof("GET", uri, dpop.ProofOptions{AccessToken: tok})
	if err != nil {
		b.Fatal(err)
	}
	return p
}
