package apitype

import "time"

// Key is a signing key as GET /api/v1/admin/keys lists it: its schedule,
// never its private part.
type Key struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"` // next, active or retired
	CreatedAt   time.Time  `json:"created_at"`
	ActivatesAt time.Time  `json:"activates_at"`
	RetiresAt   *time.Time `json:"retires_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
}

// KeyList is GET /api/v1/admin/keys.
type KeyList struct {
	Keys []Key `json:"keys"`
}

// KeyRotation is the body of POST /api/v1/admin/keys/rotate: how long the
// new key is published before it signs (absent: the server's default).
type KeyRotation struct {
	DelaySeconds *int64 `json:"delay_seconds,omitempty"`
}
