// Package ratelimit implements the oauth.Limiter: per-client token limits
// (a client's rate_limit_per_minute and rate_limit_per_hour) and limits on
// failed authentication per client id and per IP address.
//
// Every limit is a GCRA (generic cell rate algorithm), which behaves as a
// token bucket holding N tokens refilled continuously at N per period: a
// client may burst up to N requests, then gets one more every period/N,
// and a refusal says exactly how long to wait (Retry-After).
//
// State lives in memory by default (bounded maps; a full bucket is the
// same as no entry, so entries expire by themselves). With a Redis URL the
// state is shared by every replica through one small Lua script that runs
// the same algorithm on Redis's clock. When Redis does not answer, the
// limiter falls back to its in-memory state for a few seconds at a time
// (limits then hold per replica instead of globally): it never fails open
// to "unlimited" and never fails closed to "refuse everyone".
//
// The package owns no HTTP: the oauth package asks it and writes the 429.
package ratelimit
