package mt5api

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/permiso-auth/permiso/examples/trading/broker"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Scopes of the trading API.
const (
	ScopeTradeRead      = "trade:read"
	ScopeTradeOpen      = "trade:open"
	ScopeTradeClose     = "trade:close"
	ScopeTradeModify    = "trade:modify"
	ScopeAccountRead    = "account:read"
	ScopeAccountBalance = "account:balance"
	ScopeMarketData     = "market:data"
	ScopeServiceMT5     = "service:mt5"
	ScopeAdminSystem    = "admin:system"
)

// Config assembles the API.
type Config struct {
	Broker broker.Broker
	Guard  *guard.Guard
	// CORSOrigin is the one browser origin allowed to call the API (for
	// example the dashboard's "http://localhost:3000"); empty allows none.
	CORSOrigin string
	// Risk, when set, is asked before every position is opened, on the
	// caller's behalf.
	Risk *RiskClient
	// Version is reported by /health.
	Version string
	// Logger receives request records; nil discards them.
	Logger *slog.Logger
}

// Handler returns the API's handler.
func Handler(cfg Config) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{cfg: cfg}
	g := cfg.Guard
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	route := func(pattern string, h http.HandlerFunc, reqs ...guard.Requirement) {
		mux.Handle(pattern, g.Require(reqs...)(h))
	}
	route("GET /api/v1/trades", a.listTrades, guard.AllOf(ScopeTradeRead))
	route("POST /api/v1/trades", a.openTrade, guard.AllOf(ScopeTradeOpen))
	route("DELETE /api/v1/trades/{id}", a.closeTrade, guard.AllOf(ScopeTradeClose))
	route("GET /api/v1/account", a.account, guard.AllOf(ScopeAccountRead))
	route("GET /api/v1/account/balance", a.account, guard.AllOf(ScopeAccountBalance))
	route("GET /api/v1/market/{symbol}", a.quote, guard.AllOf(ScopeMarketData))
	route("GET /api/v1/admin/stats", a.stats, guard.AllOf(ScopeAdminSystem), guard.Trusted())
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, wire.ErrNotFound, "Not found")
	})
	return a.logRequests(cors(cfg.CORSOrigin, mux))
}

type api struct{ cfg Config }

// statusRecorder captures the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		a.cfg.Logger.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
	})
}

// cors answers CORS requests from the one allowed origin (never a wildcard).
func cors(origin string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		if origin == "" || r.Header.Get("Origin") != origin {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, wire.Error{Code: code, Description: description})
}
