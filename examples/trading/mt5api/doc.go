// Package mt5api is the HTTP API of the MT5 trading example (the original
// Permiso's §6.4): trades, account, market data and admin statistics, each
// route protected by sdk/guard with the original's scopes, over a
// [broker.Broker]. Command mt5-api assembles it.
package mt5api
