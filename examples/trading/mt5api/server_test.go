package mt5api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/examples/trading/broker"
	"github.com/permiso-auth/permiso/sdk/guard"
)

func newHandler(t *testing.T) http.Handler {
	t.Helper()
	// The issuer is never reached: these requests fail before verification.
	g, err := guard.New(context.Background(), guard.Config{Issuer: "http://127.0.0.1:1", Audience: "https://mt5"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return Handler(Config{Broker: broker.NewSim(broker.SimConfig{}), Guard: g, CORSOrigin: "http://localhost:3000", Version: "test"})
}

func TestCORSAndAuth(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		name, method, path, origin string
		wantStatus                 int
		wantAllowOrigin            string
	}{
		{"preflight from the dashboard", http.MethodOptions, "/api/v1/trades", "http://localhost:3000", 204, "http://localhost:3000"},
		{"preflight from elsewhere", http.MethodOptions, "/api/v1/trades", "http://evil.example", 404, ""},
		{"no token", http.MethodGet, "/api/v1/trades", "http://localhost:3000", 401, "http://localhost:3000"},
		{"health before keys", http.MethodGet, "/health", "", 503, ""},
		{"unknown route", http.MethodGet, "/nope", "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tt.wantAllowOrigin {
				t.Fatalf("Allow-Origin = %q, want %q", got, tt.wantAllowOrigin)
			}
		})
	}
}

func TestTradeRequestValidate(t *testing.T) {
	neg := -1.0
	tests := []struct {
		name string
		req  TradeRequest
		want string // substring of the error, "" for valid
	}{
		{"valid", TradeRequest{Symbol: "EURUSD", Volume: 0.1, TradeType: "buy"}, ""},
		{"empty symbol", TradeRequest{Volume: 0.1, TradeType: "buy"}, "symbol"},
		{"long symbol", TradeRequest{Symbol: strings.Repeat("X", 21), Volume: 0.1, TradeType: "buy"}, "symbol"},
		{"zero volume", TradeRequest{Symbol: "EURUSD", TradeType: "sell"}, "volume"},
		{"huge volume", TradeRequest{Symbol: "EURUSD", Volume: 101, TradeType: "sell"}, "volume"},
		{"bad type", TradeRequest{Symbol: "EURUSD", Volume: 1, TradeType: "hold"}, "trade_type"},
		{"negative stop", TradeRequest{Symbol: "EURUSD", Volume: 1, TradeType: "buy", StopLoss: &neg}, "stop_loss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
