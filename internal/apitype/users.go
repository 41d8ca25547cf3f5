package apitype

import "time"

// User is the original's UserResponse plus the lock state. Hashes and
// tokens are never part of it.
type User struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	Email       string     `json:"email"`
	FirstName   *string    `json:"first_name"`
	LastName    *string    `json:"last_name"`
	DisplayName *string    `json:"display_name"`
	Bio         *string    `json:"bio"`
	IsActive    bool       `json:"is_active"`
	IsVerified  bool       `json:"is_verified"`
	IsSuperuser bool       `json:"is_superuser"`
	IsLocked    bool       `json:"is_locked"`
	LockedUntil *time.Time `json:"locked_until"`
	// Lockouts are the running locks: per source address, or "*" across
	// every address (docs/users.md#lockout).
	Lockouts            []Lockout   `json:"lockouts"`
	FailedLoginAttempts int         `json:"failed_login_attempts"`
	FullName            string      `json:"full_name"`
	LastLogin           *time.Time  `json:"last_login"`
	PasswordChangedAt   time.Time   `json:"password_changed_at"`
	CreatedAt           time.Time   `json:"created_at"`
	UpdatedAt           time.Time   `json:"updated_at"`
	Roles               []RoleBrief `json:"roles"`
	ScopeNames          []string    `json:"scope_names"`
	Scopes              []string    `json:"scopes"`
}

// Lockout is one running lock of a user's logins: Source is an IPv4
// address, an IPv6 /64, or "*" for every address.
type Lockout struct {
	Source      string    `json:"source"`
	LockedUntil time.Time `json:"locked_until"`
}

// RoleNames lists the user's roles by name.
func (u User) RoleNames() []string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = r.Name
	}
	return out
}

// RoleBrief is a role as a user lists it.
type RoleBrief struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// UserList is GET /api/v1/users.
type UserList struct {
	Paging
	Users []User `json:"users"`
}

// UserCreate is the body of POST /api/v1/users (an administrator's
// creation) and of POST /api/v1/users/register, which refuses roles and
// flags.
type UserCreate struct {
	Username    string    `json:"username"`
	Email       string    `json:"email"`
	Password    string    `json:"password"`
	FirstName   string    `json:"first_name,omitempty"`
	LastName    string    `json:"last_name,omitempty"`
	DisplayName string    `json:"display_name,omitempty"`
	Bio         string    `json:"bio,omitempty"`
	IsActive    *bool     `json:"is_active,omitempty"`
	IsVerified  *bool     `json:"is_verified,omitempty"`
	RoleIDs     *[]string `json:"role_ids,omitempty"` // role ids or names
}

// UserUpdate is the body of PUT /api/v1/users/{id} and PUT /users/me.
// Only the fields given change. Nobody changes their own flags or roles.
type UserUpdate struct {
	Email       *string   `json:"email,omitempty"`
	FirstName   *string   `json:"first_name,omitempty"`
	LastName    *string   `json:"last_name,omitempty"`
	DisplayName *string   `json:"display_name,omitempty"`
	Bio         *string   `json:"bio,omitempty"`
	IsActive    *bool     `json:"is_active,omitempty"`
	IsVerified  *bool     `json:"is_verified,omitempty"`
	RoleIDs     *[]string `json:"role_ids,omitempty"`
}

// PasswordChange is the body of PUT /api/v1/users/{id}/password.
// Administrators changing someone else's password omit the current one.
type PasswordChange struct {
	CurrentPassword string `json:"current_password,omitempty"`
	NewPassword     string `json:"new_password"`
}

// UserRoles is the body of PUT /api/v1/users/{id}/roles: the whole set,
// by id or name.
type UserRoles struct {
	RoleIDs *[]string `json:"role_ids"`
}

// Message is the original's {"message": ...} answer.
type Message struct {
	Message string `json:"message"`
}
