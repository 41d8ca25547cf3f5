// Package config loads Permiso's configuration from flags, environment
// variables (PERMISO_*), an optional YAML file and defaults, in that order
// of precedence. Every option is declared once, in options.go, which gives
// it its flag, its environment variable, its file key and its help text.
// Only cmd/permiso imports this package; it translates the result into
// each component's own small Config.
package config
