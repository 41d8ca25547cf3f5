package broker

import (
	"context"
	"errors"
	"time"
)

// Errors of a Broker; the API maps them to responses.
var (
	// ErrUnknownSymbol means the symbol is not traded.
	ErrUnknownSymbol = errors.New("unknown symbol")
	// ErrUnknownTrade means no trade has the ticket.
	ErrUnknownTrade = errors.New("unknown trade")
	// ErrRejected means the order was refused (margin, closed trade, stops).
	ErrRejected = errors.New("order rejected")
)

// Side is the direction of a trade.
type Side string

// Sides of a trade.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// Order is a market order.
type Order struct {
	Symbol     string
	Volume     float64 // lots
	Side       Side
	StopLoss   float64 // 0 for none
	TakeProfit float64 // 0 for none
	Comment    string
}

// Trade is a position, open or closed (the original's Trade model).
type Trade struct {
	ID           int64      `json:"id"`
	Symbol       string     `json:"symbol"`
	Volume       float64    `json:"volume"`
	Type         Side       `json:"type"`
	OpenPrice    float64    `json:"open_price"`
	CurrentPrice float64    `json:"current_price"`
	StopLoss     float64    `json:"stop_loss,omitempty"`
	TakeProfit   float64    `json:"take_profit,omitempty"`
	Profit       float64    `json:"profit"`
	OpenTime     time.Time  `json:"open_time"`
	CloseTime    *time.Time `json:"close_time,omitempty"`
	Status       string     `json:"status"` // open or closed
	Comment      string     `json:"comment,omitempty"`
}

// Account is the trading account (the original's Account model).
type Account struct {
	Balance     float64 `json:"balance"`
	Equity      float64 `json:"equity"`
	Margin      float64 `json:"margin"`
	FreeMargin  float64 `json:"free_margin"`
	MarginLevel float64 `json:"margin_level"` // percent; 0 with no margin used
	Currency    string  `json:"currency"`
	Leverage    int     `json:"leverage"`
}

// Quote is the market data of a symbol (the original's MarketData model).
type Quote struct {
	Symbol     string    `json:"symbol"`
	Bid        float64   `json:"bid"`
	Ask        float64   `json:"ask"`
	Spread     float64   `json:"spread"`
	LastUpdate time.Time `json:"last_update"`
}

// Stats summarises the broker for administrators.
type Stats struct {
	OpenTrades   int       `json:"open_trades"`
	ClosedTrades int       `json:"closed_trades"`
	Symbols      []string  `json:"symbols"`
	RealizedPnL  float64   `json:"realized_pnl"`
	Started      time.Time `json:"started"`
}

// Broker executes orders and reports positions, account and prices. It is
// safe for concurrent use.
type Broker interface {
	Trades(ctx context.Context) ([]Trade, error)
	Open(ctx context.Context, o Order) (Trade, error)
	Close(ctx context.Context, id int64) (Trade, error)
	Account(ctx context.Context) (Account, error)
	Quote(ctx context.Context, symbol string) (Quote, error)
	Stats(ctx context.Context) (Stats, error)
}
