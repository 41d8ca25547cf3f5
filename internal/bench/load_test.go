package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunLoadCountsAndClassifies(t *testing.T) {
	var served atomic.Int64
	conns := map[string]bool{}
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		mu.Lock()
		conns[r.RemoteAddr] = true
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"access_token":"x.y.z","token_type":"Bearer"}`))
		case "/no-token":
			w.Write([]byte(`{"access_token":""}`))
		case "/fail":
			http.Error(w, "nope", http.StatusServiceUnavailable)
		case "/hangup":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		}
	}))
	defer srv.Close()

	paths := []string{"/ok", "/ok", "/no-token", "/fail", "/hangup"}
	var starts, ends atomic.Int32
	res, err := RunLoad(context.Background(), LoadConfig{
		Connections: len(paths), Warmup: 100 * time.Millisecond, Duration: 400 * time.Millisecond,
		NewOp: func(i int) Op {
			return okOp(formRequest(srv.URL, paths[i], nil, "id", "secret"), checkToken)
		},
		OnMeasureStart: func() { starts.Add(1) },
		OnMeasureEnd:   func() { ends.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if starts.Load() != 1 || ends.Load() != 1 {
		t.Errorf("hooks ran %d/%d times, want 1/1", starts.Load(), ends.Load())
	}
	if res.OK == 0 || res.Errors["no_token"] == 0 || res.Errors["http_503"] == 0 || res.Errors["network"] == 0 {
		t.Fatalf("want successes and every kind of error, got ok=%d errors=%v", res.OK, res.Errors)
	}
	if len(res.Errors) != 3 {
		t.Errorf("unexpected error kinds: %v", res.Errors)
	}
	if res.Requests != res.OK+res.ErrorCount() {
		t.Errorf("requests %d != ok %d + errors %d", res.Requests, res.OK, res.ErrorCount())
	}
	// The warm-up and the tail are served but not counted.
	if int64(res.Requests) >= served.Load() {
		t.Errorf("counted %d of %d served requests; the warm-up should not count", res.Requests, served.Load())
	}
	if res.Latency.Count() != res.OK {
		t.Errorf("latency has %d values for %d successes", res.Latency.Count(), res.OK)
	}
	// Keep-alive: the good workers reuse their connection, the hang-up
	// worker needs a new one each time.
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if hang := res.Errors["network"]; uint64(n) > hang*2+uint64(len(paths))*3 {
		t.Errorf("%d connections for %d hang-ups: connections are not kept alive", n, hang)
	}
}

func TestRunLoadLatencies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := 5 * time.Millisecond
		if r.URL.Path == "/slow" {
			d = 40 * time.Millisecond
		}
		time.Sleep(d) // the handler's simulated work
		w.Write([]byte(`{"access_token":"t"}`))
	}))
	defer srv.Close()
	// 3 fast workers and 1 slow: at ~200 fast and ~25 slow requests/s
	// per worker, about 96% of the answers take 5 ms and 4% take 40 ms (a
	// loaded machine slows the fast ones most, so the slow share only grows).
	res, err := RunLoad(context.Background(), LoadConfig{
		Connections: 4, Duration: 600 * time.Millisecond,
		NewOp: func(i int) Op {
			path := "/fast"
			if i == 0 {
				path = "/slow"
			}
			return okOp(getRequest(srv.URL, path), checkToken)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p50, p99, maxLat := res.Latency.Quantile(0.5), res.Latency.Quantile(0.99), res.Latency.Max()
	// Only bounds the handler guarantees: every answer takes at least its
	// sleep, whatever the load on the machine (which can only add to it).
	if p50 < 5*time.Millisecond || p50 > p99 {
		t.Errorf("p50 = %v, want at least the 5 ms sleep and at most p99 (%v)", p50, p99)
	}
	if p99 < 40*time.Millisecond || maxLat < 40*time.Millisecond {
		t.Errorf("p99 = %v, max = %v, want at least the 40 ms sleep", p99, maxLat)
	}
	if res.ErrorCount() != 0 {
		t.Errorf("errors: %v", res.Errors)
	}
	if rps := res.OKPerSecond(); rps <= 0 || rps > 4*1000/5 {
		t.Errorf("ok/s = %.0f, impossible for 4 connections at ≥5 ms", rps)
	}
}

func TestRunLoadIsBoundedInTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	begin := time.Now()
	res, err := RunLoad(context.Background(), LoadConfig{
		Connections: 3, Warmup: 50 * time.Millisecond, Duration: 200 * time.Millisecond, Slack: 150 * time.Millisecond,
		NewOp: func(int) Op { return okOp(getRequest(srv.URL, "/"), checkToken) },
	})
	took := time.Since(begin)
	if err != nil {
		t.Fatal(err)
	}
	if took > time.Second {
		t.Errorf("took %v; the hard deadline is 400ms", took)
	}
	if took < 400*time.Millisecond {
		t.Errorf("took %v; should wait out warm-up + duration + slack", took)
	}
	// The requests were sent during the warm-up and cut off after the
	// window: they are not timeouts of the window. Every kind counted
	// must be a timeout.
	for k := range res.Errors {
		if k != "timeout" {
			t.Errorf("unexpected error kind %q", k)
		}
	}
	if res.OK != 0 {
		t.Errorf("ok = %d, want 0", res.OK)
	}
}

func TestRunLoadTimeoutsInWindow(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	res, err := RunLoad(context.Background(), LoadConfig{
		Connections: 2, Duration: 100 * time.Millisecond, Slack: 100 * time.Millisecond,
		NewOp: func(int) Op { return okOp(getRequest(srv.URL, "/"), checkToken) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors["timeout"] != 2 {
		t.Errorf("errors = %v, want 2 timeouts (one stuck request per connection)", res.Errors)
	}
}

func TestRunLoadStopsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"t"}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	begin := time.Now()
	res, err := RunLoad(ctx, LoadConfig{Connections: 2, Duration: time.Minute,
		NewOp: func(int) Op { return okOp(getRequest(srv.URL, "/"), checkToken) }})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > time.Second || !res.Interrupted {
		t.Errorf("took %v, interrupted=%v; want a prompt stop", time.Since(begin), res.Interrupted)
	}
	if res.Errors["timeout"] != 0 {
		t.Errorf("cancellation counted as timeouts: %v", res.Errors)
	}
}

func TestRunLoadRejectsBadConfig(t *testing.T) {
	op := func(int) Op { return nil }
	for _, cfg := range []LoadConfig{
		{Connections: 0, Duration: time.Second, NewOp: op},
		{Connections: 1, Duration: 0, NewOp: op},
		{Connections: 1, Duration: time.Second, Warmup: -1, NewOp: op},
		{Connections: 1, Duration: time.Second},
	} {
		if _, err := RunLoad(context.Background(), cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestJSONHelpers(t *testing.T) {
	body := []byte(`{"token_type":"Bearer", "access_token" : "a\"b", "active":true, "refresh_token":"r1"}`)
	if v, ok := jsonString(body, "access_token"); !ok || string(v) != `a\"b` {
		t.Errorf("access_token = %q %v", v, ok)
	}
	if v, ok := jsonString(body, "refresh_token"); !ok || string(v) != "r1" {
		t.Errorf("refresh_token = %q %v", v, ok)
	}
	if _, ok := jsonString(body, "active"); ok {
		t.Error("active is not a string")
	}
	if err := checkActive(body); err != nil {
		t.Error(err)
	}
	if err := checkActive([]byte(`{"active":false}`)); ErrorKind(err) != "inactive" {
		t.Errorf("inactive token: %v", err)
	}
	// A key that appears as a value first is skipped.
	if v, ok := jsonString([]byte(`{"x":"access_token","access_token":"t"}`), "access_token"); !ok || string(v) != "t" {
		t.Errorf("got %q %v", v, ok)
	}
	if err := checkToken([]byte(`{"error":"invalid_client"}`)); ErrorKind(err) != "no_token" {
		t.Errorf("no token: %v", err)
	}
	// RFC 6749 §2.3.1: form-encode each part before Basic encoding.
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("Authorization", basicAuth("a b", "c:d"))
	if u, p, ok := r.BasicAuth(); !ok || u != "a+b" || p != "c%3Ad" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
}
