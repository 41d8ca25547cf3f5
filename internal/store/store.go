package store

import (
	"context"
	"time"
)

// ScopeStore persists scopes.
type ScopeStore interface {
	CreateScope(ctx context.Context, s Scope) (Scope, error) // ErrConflict on a duplicate name
	GetScope(ctx context.Context, id string) (Scope, error)
	GetScopeByName(ctx context.Context, name string) (Scope, error)
	ListScopes(ctx context.Context, f ScopeFilter) ([]Scope, int, error) // page and total
	UpdateScope(ctx context.Context, id string, fn func(Scope) (Scope, error)) (Scope, error)
	DeleteScope(ctx context.Context, id string) error // ErrConflict while a role or client holds it
	// ScopeUsage counts the roles and the clients that hold a scope.
	ScopeUsage(ctx context.Context, id string) (roles, clients int, err error)
	// ScopeRoleCounts maps every scope's name to the number of roles
	// holding it (zero included), in one query.
	ScopeRoleCounts(ctx context.Context) (map[string]int, error)
}

// RoleStore persists roles and their scope sets.
type RoleStore interface {
	CreateRole(ctx context.Context, r Role) (Role, error) // ErrConflict on a duplicate name
	GetRole(ctx context.Context, id string) (Role, error)
	GetRoleByName(ctx context.Context, name string) (Role, error)
	ListRoles(ctx context.Context, f RoleFilter) ([]Role, int, error)
	UpdateRole(ctx context.Context, id string, fn func(Role) (Role, error)) (Role, error) // replaces ScopeIDs
	DeleteRole(ctx context.Context, id string) error                                      // ErrConflict while a user holds it
	// RoleUserCounts maps role id to the number of users holding it.
	RoleUserCounts(ctx context.Context) (map[string]int, error)
}

// ClientStore persists clients and their secrets.
type ClientStore interface {
	CreateClient(ctx context.Context, c Client) (Client, error)     // ErrConflict on a duplicate client_id
	GetClient(ctx context.Context, clientID string) (Client, error) // by public client_id
	ListClients(ctx context.Context, f ClientFilter) ([]Client, int, error)
	UpdateClient(ctx context.Context, clientID string, fn func(Client) (Client, error)) (Client, error)
	DeleteClient(ctx context.Context, clientID string) error // removes its secrets too
	// LoadClients returns up to limit clients whose client_id sorts after
	// after, in client_id order, each with its scopes and its secrets that
	// have not expired at now: how the cache reads every client in bulk.
	LoadClients(ctx context.Context, after string, limit int, now time.Time) ([]LoadedClient, error)
	// RecordClientUsage adds n to total_requests and sets last_used, for batched counters.
	RecordClientUsage(ctx context.Context, clientID string, n int64, at time.Time) error
	// RecordClientsUsage does RecordClientUsage for many clients in one
	// transaction; client_ids that no longer exist are skipped.
	RecordClientsUsage(ctx context.Context, counts map[string]int64, at time.Time) error
	// ClientStats counts clients and returns the top busiest ones.
	ClientStats(ctx context.Context, top int) (ClientStats, error)

	AddClientSecret(ctx context.Context, s ClientSecret) (ClientSecret, error)
	// ListClientSecrets returns the client's secrets that have not expired at now.
	ListClientSecrets(ctx context.Context, clientUUID string, now time.Time) ([]ClientSecret, error)
	// ExpireClientSecrets sets ExpiresAt on every secret of the client that
	// has none or a later one, except keepID.
	ExpireClientSecrets(ctx context.Context, clientUUID, keepID string, at time.Time) error
}

// UserStore persists users, their roles and their mailed tokens.
type UserStore interface {
	CreateUser(ctx context.Context, u User) (User, error) // ErrConflict on duplicate username or email (case-insensitive)
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByLogin finds a user by username or email, case-insensitively.
	GetUserByLogin(ctx context.Context, login string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, int, error)
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) (User, error) // replaces RoleIDs
	DeleteUser(ctx context.Context, id string) error                                      // cascades to sessions and refresh tokens
	UserStats(ctx context.Context, now time.Time) (UserStats, error)                      // RecentRegistrations: last 30 days
	// UnlockExpired clears lockouts that ended before now; it returns how many.
	UnlockExpired(ctx context.Context, now time.Time) (int, error)

	CreateUserToken(ctx context.Context, t UserToken) error
	// ConsumeUserToken marks an unexpired, unused token used and returns it.
	// ErrNotFound for unknown or expired, ErrAlreadyUsed for used tokens.
	ConsumeUserToken(ctx context.Context, hash []byte, purpose string, now time.Time) (UserToken, error)
	DeleteExpiredUserTokens(ctx context.Context, now time.Time) (int, error)
}

// SessionStore persists sessions, refresh tokens and authorization codes.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) (Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	// ListSessions returns a user's sessions that are not revoked and not expired at now.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	UpdateSession(ctx context.Context, id string, fn func(Session) (Session, error)) (Session, error)
	// RevokeUserSessions revokes every live session of a user and returns how many.
	RevokeUserSessions(ctx context.Context, userID string, at time.Time) (int, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)
	SessionStats(ctx context.Context, now, since time.Time) (SessionStats, error)

	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	GetRefreshToken(ctx context.Context, hash []byte) (RefreshToken, error)
	// UseRefreshToken atomically sets UsedAt on an unused token. It returns
	// ErrAlreadyUsed (with the token) when it was used before.
	UseRefreshToken(ctx context.Context, hash []byte, at time.Time) (RefreshToken, error)
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) (int, error)
	RevokeSessionRefreshTokens(ctx context.Context, sessionID string, at time.Time) (int, error)
	RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) (int, error)
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int, error)

	CreateAuthCode(ctx context.Context, c AuthCode) error
	// ConsumeAuthCode marks an unexpired code used and returns it;
	// ErrAlreadyUsed if it was used, ErrNotFound if unknown or expired.
	ConsumeAuthCode(ctx context.Context, hash []byte, now time.Time) (AuthCode, error)
}

// RevocationStore persists the access-token revocation list.
type RevocationStore interface {
	// Revoke adds a jti; revoking twice is not an error.
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
	IsRevoked(ctx context.Context, jti string, now time.Time) (bool, error)
	// ListRevocations returns unexpired entries with Seq > afterSeq, in Seq order.
	ListRevocations(ctx context.Context, afterSeq int64, now time.Time, limit int) ([]Revocation, error)
	DeleteExpiredRevocations(ctx context.Context, now time.Time) (int, error)
}

// WebhookStore persists the sealed secret each client's webhook
// deliveries are signed with (package webhook seals and opens it).
type WebhookStore interface {
	// SetWebhookSecret stores the client's sealed webhook secret (by client
	// UUID), replacing the one it had; ErrNotFound for an unknown client.
	SetWebhookSecret(ctx context.Context, clientUUID string, sealed []byte, at time.Time) error
	// GetWebhookSecret returns it; ErrNotFound when the client has none.
	GetWebhookSecret(ctx context.Context, clientUUID string) (sealed []byte, createdAt time.Time, err error)
}

// ReplayStore records single-use keys shared by every replica: hashes of
// the jti of a client assertion or a DPoP proof, kept until the JWT
// expires. Package replay builds on it.
type ReplayStore interface {
	// ClaimReplay records key until expiresAt. It returns false when key is
	// already recorded and its record has not expired at now; the database
	// decides the single winner among concurrent callers.
	ClaimReplay(ctx context.Context, key []byte, expiresAt, now time.Time) (bool, error)
	// RecordReplays writes keys whose first use was already decided
	// elsewhere (a sole user's memory, a replica's own records through an
	// outage), in one transaction: one commit, not one per key. A key
	// already recorded keeps the later of the two expiries.
	RecordReplays(ctx context.Context, records []ReplayRecord) error
	DeleteExpiredReplays(ctx context.Context, now time.Time) (int, error)
	// LastReplayExpiry returns the latest expiry of any record, the zero
	// time when there is none.
	LastReplayExpiry(ctx context.Context) (time.Time, error)
}

// ReplayRecord is one single-use key and when its record expires.
type ReplayRecord struct {
	Key       []byte
	ExpiresAt time.Time
}

// KeyStore persists signing keys.
type KeyStore interface {
	CreateKey(ctx context.Context, k SigningKey) error  // ErrConflict on a duplicate kid
	ListKeys(ctx context.Context) ([]SigningKey, error) // every key, oldest first
	UpdateKey(ctx context.Context, kid string, fn func(SigningKey) (SigningKey, error)) (SigningKey, error)
	DeleteKey(ctx context.Context, kid string) error
}

// AuditStore persists audit events.
type AuditStore interface {
	AppendAuditEvents(ctx context.Context, events []AuditEvent) error
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]AuditEvent, int, error) // newest first
	DeleteAuditEventsBefore(ctx context.Context, t time.Time) (int, error)
}

// Change tells other replicas that cached data changed.
type Change struct {
	Kind string // one of the Change* kinds
	ID   string // the changed item's key (client_id, kid, jti), or empty for "everything of this kind"
	// Tenant is the id of the tenant whose data changed. A tenant's store
	// sets it on what it publishes and delivers only its own tenant's
	// changes; empty means every tenant (Kind "*" after a lost connection).
	Tenant string
}

// Change kinds.
const (
	ChangeClient     = "client"
	ChangeScope      = "scope"
	ChangeRole       = "role"
	ChangeKey        = "key"
	ChangeRevocation = "revocation"
	ChangeUser       = "user"
	ChangeTrust      = "trust" // a trust or a binding changed; ID is empty
	// ChangeTenant: a tenant was created, changed or deleted; ID and
	// Tenant are its id.
	ChangeTenant = "tenant"
)

// Store is everything one tenant persists: the handle [Root.Tenant]
// returns. Consumers should accept the smaller interfaces they use.
type Store interface {
	ScopeStore
	RoleStore
	ClientStore
	UserStore
	SessionStore
	RevocationStore
	ReplayStore
	WebhookStore
	TrustStore
	KeyStore
	AuditStore

	// Lock runs fn while holding a named lock shared by every process using
	// the same database (a PostgreSQL advisory lock; one process
	// owns a SQLite file, so a process-local lock suffices there), so
	// replicas that start together do not race.
	Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error
	// Publish announces a change to every replica (PostgreSQL NOTIFY; a
	// no-op broadcast within the process on SQLite). Subscribe delivers
	// changes published by any process until ctx ends. Writes through the
	// store publish their own changes; callers publish only what the store
	// cannot know.
	Publish(ctx context.Context, c Change) error
	Subscribe(ctx context.Context, fn func(Change)) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	Close() error
	// TenantID is the id of the tenant the store is scoped to: every read
	// and write goes to that tenant's data only, Lock names are the
	// tenant's own, and Publish and Subscribe carry its changes.
	TenantID() string
}
