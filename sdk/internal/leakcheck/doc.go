// Package leakcheck finds goroutines left running by the sdk module's
// packages, for tests. It is a small, dependency-free stand-in for goleak.
package leakcheck
