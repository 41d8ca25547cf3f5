package mt5api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// RiskDecision is the risk service's answer.
type RiskDecision struct {
	Approved bool   `json:"approved"`
	Reason   string `json:"reason"`
}

// RiskClient asks the risk service whether a position may be opened. Its
// HTTP client must carry a token for the risk service obtained for the
// caller, such as clientcredentials.Exchanger's transport: mt5-api calls
// risk on the trader's behalf, never with its own token.
type RiskClient struct {
	URL  string // the risk service's base URL
	HTTP *http.Client
}

// errRiskRefused is a refusal of the call itself (the trader may not be
// acted for here, or the exchange was refused), as opposed to a decision.
type errRiskRefused struct{ description string }

func (e errRiskRefused) Error() string { return "risk check refused: " + e.description }

// Check asks about req with ctx, which must carry the caller's token (the
// request context of the caller's call).
func (c *RiskClient) Check(ctx context.Context, req TradeRequest) (RiskDecision, error) {
	body, _ := json.Marshal(map[string]any{"symbol": req.Symbol, "volume": req.Volume, "trade_type": req.TradeType})
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/api/v1/risk/check", bytes.NewReader(body))
	if err != nil {
		return RiskDecision{}, fmt.Errorf("risk request: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(hr)
	var we *wire.Error
	if errors.As(err, &we) { // the exchange itself was refused
		return RiskDecision{}, errRiskRefused{we.Description}
	}
	if err != nil {
		return RiskDecision{}, fmt.Errorf("risk call: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusOK:
		var d RiskDecision
		if err := json.Unmarshal(b, &d); err != nil {
			return RiskDecision{}, fmt.Errorf("risk answer: %w", err)
		}
		return d, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		var e wire.Error
		json.Unmarshal(b, &e)
		return RiskDecision{}, errRiskRefused{e.Description}
	}
	return RiskDecision{}, fmt.Errorf("risk service answered HTTP %d", resp.StatusCode)
}
