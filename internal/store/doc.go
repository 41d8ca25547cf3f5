// Package store defines Permiso's persistent domain types, the small
// per-domain interfaces that every backend implements, and the sentinel
// errors they return. It holds no SQL: see package sqlstore for the SQLite
// and PostgreSQL implementation and package storetest for the conformance
// suite every implementation must pass.
//
// Writes that read-modify-write go through Update methods taking a function
// from the old value to the new one, so transactions never leave the store.
package store
