package apitype

import "time"

// Tenant is a tenant as the default tenant's /api/v1/tenants shows it to
// an operator (admin:tenants): what it is, never what it holds.
type Tenant struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	IsActive    bool      `json:"is_active"`
	Issuer      string    `json:"issuer"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TenantList is GET /api/v1/tenants, by name.
type TenantList struct {
	Paging
	Tenants []Tenant `json:"tenants"`
}

// TenantCreate is the body of POST /api/v1/tenants.
type TenantCreate struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
}

// TenantUpdate is the body of PUT /api/v1/tenants/{name}; an absent field
// is left as it is.
type TenantUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	IsActive    *bool   `json:"is_active,omitempty"`
}

// TenantAdminCreate is the body of POST /api/v1/tenants/{name}/administrators.
type TenantAdminCreate struct {
	Username string `json:"username"`
	Email    string `json:"email"`
}

// TenantAdminSetup is the answer to TenantAdminCreate: the new
// administrator (a superuser with the admin role and no password) and the
// single-use token with which they choose their password at Setup.
type TenantAdminSetup struct {
	UserID     string    `json:"user_id"`
	Username   string    `json:"username"`
	SetupToken string    `json:"setup_token"`
	ExpiresAt  time.Time `json:"expires_at"`
	Setup      string    `json:"setup"`
}
