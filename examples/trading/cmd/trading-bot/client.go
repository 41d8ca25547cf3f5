package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// mt5Client calls mt5-api; its HTTP client adds the bearer token.
type mt5Client struct {
	base string
	hc   *http.Client
}

// apiError is an error response of mt5-api.
type apiError struct {
	Status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("mt5-api: HTTP %d %s: %s", e.Status, e.Code, e.Description)
}

type quote struct {
	Symbol string  `json:"symbol"`
	Bid    float64 `json:"bid"`
	Ask    float64 `json:"ask"`
	Spread float64 `json:"spread"`
}

type trade struct {
	ID        int64   `json:"id"`
	Symbol    string  `json:"symbol"`
	Type      string  `json:"type"`
	Volume    float64 `json:"volume"`
	OpenPrice float64 `json:"open_price"`
	Profit    float64 `json:"profit"`
}

func (c *mt5Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b) // replayable: the transport may retry once
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		ae := &apiError{Status: resp.StatusCode}
		_ = json.Unmarshal(b, ae)
		return ae
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: decode: %w", method, path, err)
	}
	return nil
}

func (c *mt5Client) quote(ctx context.Context, symbol string) (quote, error) {
	var q quote
	err := c.do(ctx, http.MethodGet, "/api/v1/market/"+url.PathEscape(symbol), nil, &q)
	return q, err
}

func (c *mt5Client) openTrade(ctx context.Context, symbol, side string, volume float64) (trade, error) {
	var t trade
	err := c.do(ctx, http.MethodPost, "/api/v1/trades",
		map[string]any{"symbol": symbol, "volume": volume, "trade_type": side}, &t)
	return t, err
}

func (c *mt5Client) closeTrade(ctx context.Context, id int64) (float64, error) {
	var r struct {
		Profit float64 `json:"profit"`
	}
	err := c.do(ctx, http.MethodDelete, "/api/v1/trades/"+strconv.FormatInt(id, 10), nil, &r)
	return r.Profit, err
}
