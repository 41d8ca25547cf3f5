// Package broker is the trading back end of the MT5 example: the [Broker]
// interface the API serves, and [Sim], an in-memory simulated market
// (random-walk prices, positions, balance and margin) standing in for a
// MetaTrader terminal. A real terminal bridge would implement Broker too.
package broker
