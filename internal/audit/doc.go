// Package audit records security-relevant events: every authentication
// decision and every admin change. A [Recorder] never blocks the request
// that records: events are queued, written to the store in batches by
// [Sink.Run], and emitted as JSON log lines. Secrets never belong in an
// event; callers pass identifiers only.
package audit
