// Package api serves the original Permiso REST API under /api/v1, one file
// per resource, with the original's paths and shapes and its bugs fixed:
// both trailing-slash forms work, ids are UUIDs, scopes may be named by name
// or id, a missing scope is 403 (never 500), errors keep the
// {"error","error_description"} envelope and never leak internals.
// Authentication goes through oauth.Provider.VerifyAccess, the one
// verification path, and admin endpoints are authorised by admin:* scopes.
// On top of those, every write obeys the delegation rule of delegation.go:
// nobody grants or acts upon more than their token holds.
package api
