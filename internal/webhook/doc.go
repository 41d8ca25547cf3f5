// Package webhook signs and delivers Permiso's webhook calls to a
// client's webhook_url, and keeps the per-client secret they are signed
// with.
//
// Each client has its own webhook secret ("pmw_" and 43 base64url
// characters, 256 bits), shown once when it is created or rotated. Permiso
// needs it in clear to sign, so it is stored sealed (AES-256-GCM under a
// key derived from the master key, the client's UUID as additional data),
// never hashed and never logged.
//
// A delivery is a POST of a JSON body with these headers:
//
//	Content-Type:        application/json
//	User-Agent:          Permiso-Webhook
//	X-Permiso-Event:     webhook.test
//	X-Permiso-Delivery:  a random id, the same in the body
//	X-Permiso-Timestamp: unix seconds
//	X-Permiso-Signature: sha256=<hex HMAC-SHA256 over "<timestamp>.<body>">
//
// A receiver recomputes the HMAC with its secret over the timestamp, a dot
// and the raw body, compares in constant time, and refuses timestamps more
// than a few minutes old (see [Verify]). Deliveries go through
// internal/outbound, with its address, time and size limits; redirects are
// not followed, and the receiver's answer is read only to its end within
// the cap and never returned to whoever asked for the delivery.
package webhook
