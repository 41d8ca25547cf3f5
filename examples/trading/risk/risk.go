// Package risk is the trading example's risk service: mt5-api asks it,
// before opening a position, whether the trader may take that risk. It is
// called only on someone's behalf: with a token mt5-api obtained by token
// exchange (RFC 8693) for the trader, which names the trader as subject and
// mt5-api as the actor. Command risk serves it.
package risk

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// ScopeTradeOpen is what a check needs: the trader's right to open trades.
const ScopeTradeOpen = "trade:open"

// Config assembles the service.
type Config struct {
	Guard *guard.Guard
	// Actors are the client ids allowed to act for a trader here (mt5-api's).
	Actors []string
	// MaxVolume is the largest position a check approves, in lots; default 10.
	MaxVolume float64
	Logger    *slog.Logger
}

// CheckRequest is the body of POST /api/v1/risk/check.
type CheckRequest struct {
	Symbol    string  `json:"symbol"`
	Volume    float64 `json:"volume"`
	TradeType string  `json:"trade_type"`
}

// Decision is the answer: whether the position may be opened, and for whom
// and by whom the check was made, as the token says.
type Decision struct {
	Approved bool     `json:"approved"`
	Reason   string   `json:"reason,omitempty"`
	Subject  string   `json:"subject"`
	Username string   `json:"username,omitempty"`
	Actors   []string `json:"actors"` // the acting service first
}

// Handler returns the service's handler.
func Handler(cfg Config) http.Handler {
	if cfg.MaxVolume <= 0 {
		cfg.MaxVolume = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		if !cfg.Guard.Ready() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "service": "risk"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "healthy", "service": "risk"})
	})
	// Only a service acting for someone, never a caller passing for them.
	mux.Handle("POST /api/v1/risk/check", cfg.Guard.Require(guard.AllOf(ScopeTradeOpen),
		guard.ActedBy(cfg.Actors...), guard.NoImpersonation())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CheckRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Symbol == "" || req.Volume <= 0 {
			writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.ErrValidation, Description: "want {symbol, volume, trade_type}"})
			return
		}
		c, _ := guard.ClaimsFrom(r.Context())
		d := Decision{Approved: true, Subject: c.Subject, Username: c.Username, Actors: []string{}}
		for _, a := range guard.Actors(r.Context()) {
			d.Actors = append(d.Actors, a.ClientID)
		}
		if req.Volume > cfg.MaxVolume {
			d.Approved, d.Reason = false, "volume exceeds the risk limit of the account"
		}
		cfg.Logger.Info("risk check", "subject", d.Subject, "actors", strings.Join(d.Actors, ","), "symbol", req.Symbol,
			"volume", req.Volume, "approved", d.Approved)
		writeJSON(w, http.StatusOK, d)
	})))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
