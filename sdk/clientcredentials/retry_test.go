package clientcredentials

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// scripted is a token endpoint that answers from a script, one step per
// request; the last step repeats.
type scripted struct {
	srv      *httptest.Server
	requests atomic.Int64
	steps    []func(w http.ResponseWriter)
}

func newScripted(t *testing.T, steps ...func(w http.ResponseWriter)) *scripted {
	s := &scripted{steps: steps}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.requests.Add(1)) - 1
		s.steps[min(n, len(s.steps)-1)](w)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(wire.TokenResponse{AccessToken: "tok", TokenType: "bearer", ExpiresIn: 3600})
}

func status(code int, errCode string, header ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		if errCode != "" {
			_ = json.NewEncoder(w).Encode(wire.Error{Code: errCode})
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name         string
		steps        []func(http.ResponseWriter)
		wantErr      string // wire error code, "any" for any error, "" for success
		wantRequests int64
		minElapsed   time.Duration
	}{
		{"5xx then OK", []func(http.ResponseWriter){status(503, ""), status(500, wire.ErrServerError), ok}, "", 3, 0},
		{"429 with Retry-After", []func(http.ResponseWriter){status(429, "", "Retry-After", "1"), ok}, "", 2, time.Second},
		{"Retry-After beyond MaxBackoff gives up", []func(http.ResponseWriter){status(429, "", "Retry-After", "3600"), ok}, "any", 1, 0},
		{"invalid_client is not retried", []func(http.ResponseWriter){status(401, wire.ErrInvalidClient), ok}, wire.ErrInvalidClient, 1, 0},
		{"invalid_scope is not retried", []func(http.ResponseWriter){status(400, wire.ErrInvalidScope), ok}, wire.ErrInvalidScope, 1, 0},
		{"404 is not retried", []func(http.ResponseWriter){status(404, ""), ok}, "any", 1, 0},
		{"always 502 exhausts retries", []func(http.ResponseWriter){status(502, "")}, "any", 4, 0},
		{"malformed success is not retried", []func(http.ResponseWriter){func(w http.ResponseWriter) { _, _ = w.Write([]byte("{")) }, ok}, "any", 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScripted(t, tt.steps...)
			cfg := Config{TokenURL: s.srv.URL, ClientID: "bot", ClientSecret: "s", MinBackoff: time.Millisecond,
				MaxBackoff: 2 * time.Second, BreakerThreshold: -1}
			start := time.Now()
			tok, err := cfg.Token(context.Background())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Token: %v", err)
			case tt.wantErr == "" && tok.AccessToken != "tok":
				t.Fatalf("token = %+v", tok)
			case tt.wantErr == "any" && err == nil:
				t.Fatal("Token succeeded")
			case tt.wantErr != "" && tt.wantErr != "any":
				var we *wire.Error
				if !errors.As(err, &we) || we.Code != tt.wantErr {
					t.Fatalf("err = %v, want %s", err, tt.wantErr)
				}
			}
			if n := s.requests.Load(); n != tt.wantRequests {
				t.Fatalf("requests = %d, want %d", n, tt.wantRequests)
			}
			if el := time.Since(start); el < tt.minElapsed {
				t.Fatalf("returned after %v, want at least %v", el, tt.minElapsed)
			}
		})
	}
}

func TestServerDownAndSlow(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	tests := []struct {
		name string
		cfg  Config
	}{
		{"down", Config{IssuerURL: downURL, ClientID: "bot", ClientSecret: "s", MinBackoff: time.Millisecond}},
		{"slow", Config{TokenURL: slow.URL, ClientID: "bot", ClientSecret: "s", MaxRetries: -1,
			HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var failures atomic.Int64
			tt.cfg.Hooks.OnFailure = func(error) { failures.Add(1) }
			src := tt.cfg.TokenSource(context.Background())
			defer src.Close()
			start := time.Now()
			if _, err := src.Token(); err == nil {
				t.Fatal("Token succeeded")
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("Token took %v", el)
			}
			if failures.Load() != 1 {
				t.Fatalf("OnFailure calls = %d, want 1", failures.Load())
			}
		})
	}
	t.Run("caller deadline", func(t *testing.T) {
		cfg := Config{TokenURL: slow.URL, ClientID: "bot", ClientSecret: "s"}
		src := cfg.TokenSource(context.Background())
		defer src.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if _, err := src.TokenContext(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want deadline exceeded", err)
		}
	})
}

func TestCircuitBreaker(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	s := newScripted(t, ok, status(503, ""), status(503, ""), status(503, ""), ok)
	cfg := Config{TokenURL: s.srv.URL, ClientID: "bot", ClientSecret: "s", MaxRetries: -1, Now: clock,
		BreakerThreshold: 2, BreakerCooldown: time.Minute, RefreshBefore: -1}
	src := cfg.TokenSource(context.Background())
	defer src.Close()
	ctx := context.Background()

	cached, err := src.Token()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // two failures open the breaker
		if _, err := src.TokenFor(ctx, "x"); err == nil || errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("err = %v, want a server error", err)
		}
	}
	if _, err := src.TokenFor(ctx, "x"); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	if n := s.requests.Load(); n != 3 {
		t.Fatalf("requests with the breaker open = %d, want 3", n)
	}
	if tok, err := src.Token(); err != nil || tok != cached {
		t.Fatalf("cached token refused while the breaker is open: %v", err)
	}
	if st := src.breaker.state(clock()); st != "open" {
		t.Fatalf("breaker = %s", st)
	}
	advance(time.Minute + time.Second) // half-open: one trial, which fails
	if _, err := src.TokenFor(ctx, "x"); err == nil || errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("trial err = %v", err)
	}
	if st := src.breaker.state(clock()); st != "open" {
		t.Fatalf("breaker after failed trial = %s", st)
	}
	advance(time.Minute + time.Second) // the next trial succeeds and closes it
	if _, err := src.TokenFor(ctx, "x"); err != nil {
		t.Fatalf("trial after cooldown: %v", err)
	}
	if st := src.breaker.state(clock()); st != "closed" {
		t.Fatalf("breaker after success = %s", st)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"5", 5 * time.Second}, {"-1", 0}, {"soon", 0},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
