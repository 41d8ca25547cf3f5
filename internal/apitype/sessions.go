package apitype

import "time"

// Session is one session in the original's shape (user_id a UUID string,
// not the original's integer).
type Session struct {
	SessionID    string    `json:"session_id"`
	UserID       string    `json:"user_id"`
	Username     string    `json:"username"`
	ClientID     string    `json:"client_id"`
	IPAddress    string    `json:"ip_address"`
	UserAgent    string    `json:"user_agent"`
	CreatedAt    time.Time `json:"created_at"`
	LastActivity time.Time `json:"last_activity"`
	ExpiresAt    time.Time `json:"expires_at"`
	Current      bool      `json:"current"`
}

// SessionList is GET /api/v1/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
	Total    int       `json:"total"`
}

// SessionStats is GET /api/v1/sessions/stats.
type SessionStats struct {
	Active       int `json:"active_sessions"`
	CreatedToday int `json:"sessions_created_today"`
	Expired      int `json:"expired_sessions"`
	Total        int `json:"total_sessions"`
}

// SessionsCleaned is the answer to POST /api/v1/sessions/cleanup.
type SessionsCleaned struct {
	Message string `json:"message"`
	Cleaned int    `json:"sessions_cleaned"`
}
