// Package server assembles Permiso: it opens the store, prepares keys,
// seeds defaults, builds every domain package with its own Config in
// dependency order (Server.init reads top to bottom as the dependency
// graph; nothing is patched in after construction), mounts their routes,
// and runs the HTTP server with its middleware, background loops and
// graceful shutdown. Only cmd/permiso imports it.
package server
