package apitype

import "time"

// DashboardStats is GET /api/v1/admin/dashboard/stats.
type DashboardStats struct {
	Users struct {
		Total               int `json:"total"`
		Active              int `json:"active"`
		Verified            int `json:"verified"`
		Locked              int `json:"locked"`
		RecentRegistrations int `json:"recent_registrations"`
	} `json:"users"`
	RBAC struct {
		Roles  int `json:"total_roles"`
		Scopes int `json:"total_scopes"`
	} `json:"roles_and_permissions"`
	Clients struct {
		Total  int `json:"total"`
		Active int `json:"active"`
	} `json:"service_clients"`
	Auth struct {
		Logins          int `json:"total_logins_today"`
		Failed          int `json:"failed_logins_today"`
		Sessions        int `json:"active_sessions"`
		SessionsCreated int `json:"sessions_created_today"`
	} `json:"authentication"`
	System struct {
		UptimeHours          float64   `json:"uptime_hours"`
		StartedAt            time.Time `json:"started_at"`
		RevokedTokensTracked int       `json:"revoked_tokens_tracked"`
	} `json:"system"`
}
