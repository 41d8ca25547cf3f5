// Package e2e is the trading dashboard's browser test: it builds the
// dashboard, Permiso and mt5-api, starts them on loopback ports, and drives
// the dashboard in headless Chromium as a trader would. It is a module of
// its own so that the trading example's module keeps requiring only the SDK.
package e2e
