// Package logthrottle collapses repeated log records: during an outage the
// same warning or error would otherwise be written once per request. A
// record at or above a level whose message was written less than an
// interval ago is counted instead; the next one written carries how many
// were held back, and Flush reports counts still held when a flood stops.
package logthrottle
