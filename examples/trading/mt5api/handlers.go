package mt5api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/permiso-auth/permiso/examples/trading/broker"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TradeRequest is the body of POST /api/v1/trades (the original's model).
type TradeRequest struct {
	Symbol     string   `json:"symbol"`
	Volume     float64  `json:"volume"`
	TradeType  string   `json:"trade_type"`
	Price      *float64 `json:"price,omitempty"`
	StopLoss   *float64 `json:"stop_loss,omitempty"`
	TakeProfit *float64 `json:"take_profit,omitempty"`
}

// Validate checks the request as the original's model did.
func (t *TradeRequest) Validate() error {
	var problems []string
	if n := len(t.Symbol); n < 1 || n > 20 {
		problems = append(problems, "symbol must be 1 to 20 characters")
	}
	if t.Volume <= 0 || t.Volume > 100 {
		problems = append(problems, "volume must be greater than 0 and at most 100")
	}
	if t.TradeType != string(broker.Buy) && t.TradeType != string(broker.Sell) {
		problems = append(problems, `trade_type must be "buy" or "sell"`)
	}
	for name, v := range map[string]*float64{"price": t.Price, "stop_loss": t.StopLoss, "take_profit": t.TakeProfit} {
		if v != nil && *v <= 0 {
			problems = append(problems, name+" must be positive")
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (a *api) health(w http.ResponseWriter, _ *http.Request) {
	body := map[string]string{"status": "healthy", "service": "mt5-api", "version": a.cfg.Version}
	if !a.cfg.Guard.Ready() {
		body["status"] = "starting"
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (a *api) listTrades(w http.ResponseWriter, r *http.Request) {
	trades, err := a.cfg.Broker.Trades(r.Context())
	if err != nil {
		a.brokerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, trades)
}

func (a *api) openTrade(w http.ResponseWriter, r *http.Request) {
	var req TradeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrValidation, "Invalid JSON body")
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, wire.ErrValidation, err.Error())
		return
	}
	if a.cfg.Risk != nil && !a.riskApproves(w, r, req) {
		return
	}
	o := broker.Order{
		Symbol: strings.ToUpper(req.Symbol), Volume: req.Volume, Side: broker.Side(req.TradeType),
		Comment: "opened by " + guard.ClientID(r.Context()),
	}
	if req.StopLoss != nil {
		o.StopLoss = *req.StopLoss
	}
	if req.TakeProfit != nil {
		o.TakeProfit = *req.TakeProfit
	}
	t, err := a.cfg.Broker.Open(r.Context(), o)
	if err != nil {
		a.brokerError(w, err)
		return
	}
	a.cfg.Logger.Info("trade opened", "id", t.ID, "symbol", t.Symbol, "volume", t.Volume, "type", t.Type,
		"price", t.OpenPrice, "client_id", guard.ClientID(r.Context()))
	writeJSON(w, http.StatusOK, t)
}

// riskApproves asks the risk service for the caller and answers the
// request when it does not approve.
func (a *api) riskApproves(w http.ResponseWriter, r *http.Request, req TradeRequest) bool {
	d, err := a.cfg.Risk.Check(r.Context(), req)
	var refused errRiskRefused
	switch {
	case errors.As(err, &refused):
		writeError(w, http.StatusForbidden, wire.ErrForbidden, "The risk check cannot be made for you: "+refused.description)
		return false
	case err != nil:
		a.cfg.Logger.Error("risk check failed", "error", err)
		writeError(w, http.StatusServiceUnavailable, wire.ErrTemporarilyUnavailable, "The risk service is unavailable")
		return false
	case !d.Approved:
		writeError(w, http.StatusBadRequest, "trade_rejected", "Rejected by the risk check: "+d.Reason)
		return false
	}
	return true
}

func (a *api) closeTrade(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, wire.ErrValidation, "trade id must be a positive integer")
		return
	}
	t, err := a.cfg.Broker.Close(r.Context(), id)
	if err != nil {
		a.brokerError(w, err)
		return
	}
	a.cfg.Logger.Info("trade closed", "id", t.ID, "profit", t.Profit, "client_id", guard.ClientID(r.Context()))
	writeJSON(w, http.StatusOK, map[string]any{"message": "Trade closed successfully", "trade_id": t.ID, "profit": t.Profit})
}

func (a *api) account(w http.ResponseWriter, r *http.Request) {
	acc, err := a.cfg.Broker.Account(r.Context())
	if err != nil {
		a.brokerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, acc)
}

func (a *api) quote(w http.ResponseWriter, r *http.Request) {
	q, err := a.cfg.Broker.Quote(r.Context(), strings.ToUpper(r.PathValue("symbol")))
	if err != nil {
		a.brokerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, err := a.cfg.Broker.Stats(r.Context())
	if err != nil {
		a.brokerError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// brokerError maps broker errors to responses: unknown things are 404,
// refused orders 400, anything else a 500 with a fixed message.
func (a *api) brokerError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, broker.ErrUnknownSymbol), errors.Is(err, broker.ErrUnknownTrade):
		writeError(w, http.StatusNotFound, wire.ErrNotFound, capitalize(err.Error()))
	case errors.Is(err, broker.ErrRejected):
		writeError(w, http.StatusBadRequest, "trade_failed", capitalize(err.Error()))
	default:
		a.cfg.Logger.Error("broker failure", "error", err)
		writeError(w, http.StatusInternalServerError, "internal_error", "The broker is unavailable")
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
