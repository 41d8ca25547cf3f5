// Package apitype declares the request and response bodies of Permiso's
// /api/v1 REST API once, for the three parties that speak it: the API
// handlers (internal/api) encode and decode them, the admin CLI
// (cmd/permiso) and the console (internal/console) are clients of them.
// A field added here reaches all three, so their shapes cannot drift.
//
// The shapes are the original Permiso's (see docs/migrating.md for where
// they differ), with JSON names as the original spelled them. Optional
// request fields are pointers, so "absent" and "zero" differ. The package
// holds types and trivial helpers only: no rules, no I/O, no imports
// beyond the standard library. The API's validation lives with the API, as
// methods of its own types defined on these (type clientFields
// apitype.ClientFields), so the fields and JSON names stay declared here.
package apitype
