package broker

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"
)

// instrument describes a simulated symbol.
type instrument struct {
	name     string
	mid      float64
	spread   float64 // absolute
	contract float64 // units per lot
	digits   int
	vol      float64 // relative volatility per √second
	quoteUSD bool    // quote currency is USD (EURUSD); else base is USD (USDJPY)
}

func defaultInstruments() []instrument {
	return []instrument{
		{"EURUSD", 1.0850, 0.00010, 100000, 5, 0.00004, true},
		{"GBPUSD", 1.2700, 0.00012, 100000, 5, 0.00005, true},
		{"USDJPY", 151.50, 0.012, 100000, 3, 0.00004, false},
		{"AUDUSD", 0.6550, 0.00012, 100000, 5, 0.00005, true},
		{"XAUUSD", 2350.0, 0.30, 100, 2, 0.00008, true},
	}
}

// SimConfig configures a [Sim]. Zero values select the defaults.
type SimConfig struct {
	// Balance is the starting balance in USD; zero means 10000.
	Balance float64
	// Leverage is the account leverage; zero means 100.
	Leverage int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Sim is a simulated broker: prices follow a random walk advanced lazily
// from the time elapsed between calls, positions are valued at the live
// price, and orders are refused when the free margin does not cover them.
// Stops are checked whenever prices move.
type Sim struct {
	now      func() time.Time
	leverage float64
	started  time.Time

	mu      sync.Mutex
	rng     *rand.Rand
	symbols map[string]*quoteState
	trades  map[int64]*Trade
	nextID  int64
	balance float64
	closed  int
	pnl     float64
}

type quoteState struct {
	instrument
	updated time.Time
}

// NewSim returns a simulated broker.
func NewSim(cfg SimConfig) *Sim {
	if cfg.Balance == 0 {
		cfg.Balance = 10000
	}
	if cfg.Leverage == 0 {
		cfg.Leverage = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	s := &Sim{
		now: cfg.Now, leverage: float64(cfg.Leverage), started: cfg.Now(),
		rng:     rand.New(rand.NewChaCha8(seed)),
		symbols: make(map[string]*quoteState),
		trades:  make(map[int64]*Trade),
		nextID:  100000001,
		balance: cfg.Balance,
	}
	for _, in := range defaultInstruments() {
		s.symbols[in.name] = &quoteState{instrument: in, updated: s.started}
	}
	return s
}

// advance moves every price by a random walk for the time elapsed since its
// last update and closes positions whose stops were hit. Caller holds s.mu.
func (s *Sim) advance() {
	now := s.now()
	for _, q := range s.symbols {
		dt := now.Sub(q.updated).Seconds()
		if dt <= 0 {
			continue
		}
		q.mid *= math.Exp(q.vol * math.Sqrt(dt) * s.rng.NormFloat64())
		q.updated = now
	}
	for _, t := range s.trades {
		if t.Status != "open" {
			continue
		}
		s.value(t)
		px := t.CurrentPrice
		hitSL := t.StopLoss > 0 && ((t.Type == Buy && px <= t.StopLoss) || (t.Type == Sell && px >= t.StopLoss))
		hitTP := t.TakeProfit > 0 && ((t.Type == Buy && px >= t.TakeProfit) || (t.Type == Sell && px <= t.TakeProfit))
		if hitSL || hitTP {
			s.settle(t, now)
		}
	}
}

func (q *quoteState) bidAsk() (bid, ask float64) {
	p := math.Pow(10, float64(q.digits))
	bid = math.Round((q.mid-q.spread/2)*p) / p
	ask = math.Round((q.mid+q.spread/2)*p) / p
	return bid, ask
}

// toUSD converts an amount in the symbol's quote currency to USD.
func (q *quoteState) toUSD(amount float64) float64 {
	if q.quoteUSD {
		return amount
	}
	return amount / q.mid
}

// value updates a trade's current price and profit in USD. Caller holds s.mu.
func (s *Sim) value(t *Trade) {
	q := s.symbols[t.Symbol]
	bid, ask := q.bidAsk()
	if t.Type == Buy {
		t.CurrentPrice = bid
		t.Profit = q.toUSD((bid - t.OpenPrice) * t.Volume * q.contract)
	} else {
		t.CurrentPrice = ask
		t.Profit = q.toUSD((t.OpenPrice - ask) * t.Volume * q.contract)
	}
	t.Profit = math.Round(t.Profit*100) / 100
}

// marginOf returns the USD margin an open position of volume lots needs.
func (s *Sim) marginOf(q *quoteState, volume float64) float64 {
	notional := volume * q.contract * q.mid // in quote currency
	return q.toUSD(notional) / s.leverage
}

// settle closes t at its current price. Caller holds s.mu.
func (s *Sim) settle(t *Trade, now time.Time) {
	s.value(t)
	t.Status = "closed"
	t.CloseTime = &now
	s.balance += t.Profit
	s.pnl += t.Profit
	s.closed++
}

// account computes the account figures. Caller holds s.mu.
func (s *Sim) account() Account {
	a := Account{Balance: s.balance, Currency: "USD", Leverage: int(s.leverage)}
	floating := 0.0
	for _, t := range s.trades {
		if t.Status == "open" {
			s.value(t)
			floating += t.Profit
			a.Margin += s.marginOf(s.symbols[t.Symbol], t.Volume)
		}
	}
	a.Equity = s.balance + floating
	a.FreeMargin = a.Equity - a.Margin
	if a.Margin > 0 {
		a.MarginLevel = a.Equity / a.Margin * 100
	}
	round := func(v float64) float64 { return math.Round(v*100) / 100 }
	a.Balance, a.Equity, a.Margin, a.FreeMargin, a.MarginLevel =
		round(a.Balance), round(a.Equity), round(a.Margin), round(a.FreeMargin), round(a.MarginLevel)
	return a
}

// Trades returns every trade, newest first.
func (s *Sim) Trades(context.Context) ([]Trade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	out := make([]Trade, 0, len(s.trades))
	for _, t := range s.trades {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// Open executes a market order at the current ask (buy) or bid (sell).
func (s *Sim) Open(_ context.Context, o Order) (Trade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	q, ok := s.symbols[o.Symbol]
	if !ok {
		return Trade{}, fmt.Errorf("%w: %s", ErrUnknownSymbol, o.Symbol)
	}
	if o.Volume < 0.01 || o.Volume > 100 || math.Abs(o.Volume*100-math.Round(o.Volume*100)) > 1e-9 {
		return Trade{}, fmt.Errorf("%w: volume must be 0.01 to 100 lots in steps of 0.01", ErrRejected)
	}
	bid, ask := q.bidAsk()
	price := ask
	if o.Side == Sell {
		price = bid
	}
	if err := checkStops(o, price); err != nil {
		return Trade{}, err
	}
	need := s.marginOf(q, o.Volume)
	if free := s.account().FreeMargin; need > free {
		return Trade{}, fmt.Errorf("%w: not enough free margin (need %.2f USD, free %.2f USD)", ErrRejected, need, free)
	}
	t := &Trade{
		ID: s.nextID, Symbol: o.Symbol, Volume: o.Volume, Type: o.Side, OpenPrice: price,
		StopLoss: o.StopLoss, TakeProfit: o.TakeProfit, OpenTime: s.now(), Status: "open", Comment: o.Comment,
	}
	s.nextID++
	s.value(t)
	s.trades[t.ID] = t
	return *t, nil
}

// checkStops refuses stops on the wrong side of the entry price.
func checkStops(o Order, price float64) error {
	sign := 1.0
	if o.Side == Sell {
		sign = -1
	}
	if o.StopLoss > 0 && sign*(price-o.StopLoss) <= 0 {
		return fmt.Errorf("%w: stop loss %.5f is on the wrong side of %.5f", ErrRejected, o.StopLoss, price)
	}
	if o.TakeProfit > 0 && sign*(o.TakeProfit-price) <= 0 {
		return fmt.Errorf("%w: take profit %.5f is on the wrong side of %.5f", ErrRejected, o.TakeProfit, price)
	}
	return nil
}

// Close closes an open trade at the current price.
func (s *Sim) Close(_ context.Context, id int64) (Trade, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	t, ok := s.trades[id]
	if !ok {
		return Trade{}, fmt.Errorf("%w: %d", ErrUnknownTrade, id)
	}
	if t.Status != "open" {
		return Trade{}, fmt.Errorf("%w: trade %d is already closed", ErrRejected, id)
	}
	s.settle(t, s.now())
	return *t, nil
}

// Account returns the account figures at the live prices.
func (s *Sim) Account(context.Context) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	return s.account(), nil
}

// Quote returns the current bid and ask of symbol.
func (s *Sim) Quote(_ context.Context, symbol string) (Quote, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	q, ok := s.symbols[symbol]
	if !ok {
		return Quote{}, fmt.Errorf("%w: %s", ErrUnknownSymbol, symbol)
	}
	bid, ask := q.bidAsk()
	p := math.Pow(10, float64(q.digits))
	return Quote{Symbol: symbol, Bid: bid, Ask: ask, Spread: math.Round((ask-bid)*p) / p, LastUpdate: q.updated}, nil
}

// Stats summarises trading activity.
func (s *Sim) Stats(context.Context) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	st := Stats{ClosedTrades: s.closed, RealizedPnL: math.Round(s.pnl*100) / 100, Started: s.started}
	for _, t := range s.trades {
		if t.Status == "open" {
			st.OpenTrades++
		}
	}
	for name := range s.symbols {
		st.Symbols = append(st.Symbols, name)
	}
	slices.Sort(st.Symbols)
	return st, nil
}

var _ Broker = (*Sim)(nil)
