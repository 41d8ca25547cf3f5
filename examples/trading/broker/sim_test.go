package broker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock advances on demand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *fakeClock               { return &fakeClock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)} }

func TestOpenValidation(t *testing.T) {
	ctx := context.Background()
	s := NewSim(SimConfig{Now: newClock().Now})
	q, err := s.Quote(ctx, "EURUSD")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		order Order
		want  error
	}{
		{"ok buy", Order{Symbol: "EURUSD", Volume: 0.1, Side: Buy}, nil},
		{"ok sell with stops", Order{Symbol: "EURUSD", Volume: 0.1, Side: Sell, StopLoss: q.Ask + 0.01, TakeProfit: q.Bid - 0.01}, nil},
		{"unknown symbol", Order{Symbol: "BTCEUR", Volume: 0.1, Side: Buy}, ErrUnknownSymbol},
		{"too small", Order{Symbol: "EURUSD", Volume: 0.001, Side: Buy}, ErrRejected},
		{"odd step", Order{Symbol: "EURUSD", Volume: 0.015, Side: Buy}, ErrRejected},
		{"stop loss on wrong side", Order{Symbol: "EURUSD", Volume: 0.1, Side: Buy, StopLoss: q.Ask + 0.01}, ErrRejected},
		{"margin exceeded", Order{Symbol: "XAUUSD", Volume: 50, Side: Buy}, ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Open(ctx, tt.order)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAccountFollowsPositions(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := NewSim(SimConfig{Now: clock.Now, Balance: 10000, Leverage: 100})
	tr, err := s.Open(ctx, Order{Symbol: "EURUSD", Volume: 1, Side: Buy})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.Account(ctx)
	// One lot of EURUSD at ~1.085 with 1:100 leverage needs ~1085 USD.
	if a.Margin < 900 || a.Margin > 1300 || a.Currency != "USD" {
		t.Fatalf("account = %+v", a)
	}
	if a.Equity >= a.Balance { // the spread makes a fresh position lose
		t.Fatalf("equity %v not below balance %v right after opening", a.Equity, a.Balance)
	}
	if d := a.FreeMargin - (a.Equity - a.Margin); d > 0.02 || d < -0.02 {
		t.Fatalf("free margin %v != equity - margin", a.FreeMargin)
	}
	clock.Add(time.Hour)
	closed, err := s.Close(ctx, tr.ID)
	if err != nil || closed.Status != "closed" {
		t.Fatalf("Close = %+v, %v", closed, err)
	}
	a2, _ := s.Account(ctx)
	if a2.Margin != 0 || a2.Balance != a2.Equity || a2.Balance == a.Balance && closed.Profit != 0 {
		t.Fatalf("after close: %+v (profit %v)", a2, closed.Profit)
	}
	if _, err := s.Close(ctx, tr.ID); !errors.Is(err, ErrRejected) {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := s.Close(ctx, 42); !errors.Is(err, ErrUnknownTrade) {
		t.Fatalf("Close unknown = %v", err)
	}
}

func TestPricesMove(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := NewSim(SimConfig{Now: clock.Now})
	a, _ := s.Quote(ctx, "XAUUSD")
	clock.Add(10 * time.Minute)
	b, _ := s.Quote(ctx, "XAUUSD")
	if a.Bid == b.Bid || b.Ask <= b.Bid || b.Spread <= 0 {
		t.Fatalf("quotes %+v then %+v", a, b)
	}
}
