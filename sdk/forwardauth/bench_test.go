package forwardauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// BenchmarkForwardAuthVsMinimal measures the decision endpoint for a cached
// token over HTTP (keep-alive connections on loopback, as a proxy calls
// it) against a minimal handler that returns 200, in alternating rounds of
// the same run. The "ratio" metric is the decision's throughput over the
// minimal handler's; 1 means the decision costs nothing on top of HTTP.
func BenchmarkForwardAuthVsMinimal(b *testing.B) {
	f := newFixture(b, "", nil)
	tok := f.token(mt5, nil, "trade:read")
	minimal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	defer minimal.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	request := func(base string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, base+PathForwardAuth, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "api.example.com")
		req.Header.Set("X-Forwarded-Uri", "/api/v1/trades?limit=5")
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	}
	decision, baseline := request(f.srv.URL), request(minimal.URL)
	do := func(req *http.Request) {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	do(decision) // the token is verified once, then cached
	const workers = 8
	run := func(req *http.Request, n int) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range workers {
			share := n / workers
			if w < n%workers {
				share++
			}
			wg.Go(func() {
				for range share {
					do(req)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var tDecision, tMinimal time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += 500 {
		n := min(500, b.N-done)
		tMinimal += run(baseline, n)
		tDecision += run(decision, n)
	}
	b.StopTimer()
	b.ReportMetric(float64(tMinimal)/float64(tDecision), "ratio")
	b.ReportMetric(float64(tDecision.Nanoseconds())/float64(b.N), "ns/decision")
	b.ReportMetric(float64(tMinimal.Nanoseconds())/float64(b.N), "ns/minimal")
}

// BenchmarkDecide is the decision alone, in process, for a cached token.
func BenchmarkDecide(b *testing.B) {
	f := newFixture(b, "", nil)
	req := &Request{Method: "GET", Host: "api.example.com", URI: "/api/v1/trades?limit=5",
		Authorization: "Bearer " + f.token(mt5, nil, "trade:read")}
	ctx := context.Background()
	if d := f.svc.Decide(ctx, req); !d.Allowed() {
		b.Fatalf("refused: %+v", d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if d := f.svc.Decide(ctx, req); !d.Allowed() {
			b.Fatal("refused")
		}
	}
}
