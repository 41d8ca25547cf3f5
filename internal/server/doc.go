// Package server assembles Permiso: it opens the store, prepares keys,
// seeds defaults, wires every domain package with its own Config, mounts
// their routes, and runs the HTTP server with its middleware, background
// loops and graceful shutdown. Only cmd/permiso imports it.
package server
