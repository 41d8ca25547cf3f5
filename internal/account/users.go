package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Field limits of the original's UserCreate.
const (
	minUsername = 3
	maxUsername = 50
	maxEmail    = 255
	maxName     = 100
	maxBio      = 1000
	// MaxRoles bounds the roles given in one request.
	MaxRoles = 50
)

// NewUser is what registration and admin creation take. RoleIDs are role
// ids already resolved by the caller.
type NewUser struct {
	Username, Email, Password             string
	FirstName, LastName, DisplayName, Bio string
	Active, Verified                      bool
	RoleIDs                               []string
}

// Profile holds the fields a user may change about themselves; nil
// leaves a field as it is.
type Profile struct {
	Email, FirstName, LastName, DisplayName, Bio *string
}

// Update is what an administrator may change; nil leaves a field as it is.
type Update struct {
	Profile
	Active, Verified *bool
	RoleIDs          *[]string
}

// Register creates a self-registered user: active, unverified, with the
// default role. Validation problems are one 422; a taken username or
// email is 409.
func (s *Service) Register(ctx context.Context, in NewUser, m Meta) (store.User, error) {
	in.Active, in.Verified, in.RoleIDs = true, false, nil
	role, err := s.cfg.Store.GetRoleByName(ctx, s.cfg.DefaultUserRole)
	switch {
	case err == nil:
		in.RoleIDs = []string{role.ID}
	case errors.Is(err, store.ErrNotFound):
		s.cfg.Logger.WarnContext(ctx, "default user role does not exist; registering without a role", "role", s.cfg.DefaultUserRole)
	default:
		return store.User{}, unavailable("load default role", err)
	}
	u, err := s.create(ctx, in)
	if err != nil {
		return store.User{}, err
	}
	s.record(ctx, Meta{IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, ActorID: u.ID, ActorType: "user"},
		"user.registered", outcomeSuccess, u.ID, map[string]any{"username": u.Username})
	return u, nil
}

// Create creates a user as an administrator, with the given flags and roles.
func (s *Service) Create(ctx context.Context, in NewUser, m Meta) (store.User, error) {
	u, err := s.create(ctx, in)
	if err != nil {
		return store.User{}, err
	}
	s.record(ctx, m, "user.created", outcomeSuccess, u.ID, map[string]any{"username": u.Username, "role_ids": u.RoleIDs,
		"is_active": u.Active, "is_verified": u.Verified})
	return u, nil
}

func (s *Service) create(ctx context.Context, in NewUser) (store.User, error) {
	var problems web.Fields
	username := checkUsername(in.Username, &problems)
	email := checkEmail(in.Email, &problems)
	checkNames(Profile{FirstName: &in.FirstName, LastName: &in.LastName, DisplayName: &in.DisplayName, Bio: &in.Bio}, &problems)
	for _, p := range s.cfg.Policy.Check(in.Password, username) {
		problems.Addf("password: %s", p)
	}
	if len(in.RoleIDs) > MaxRoles {
		problems.Addf("role_ids: at most %d roles", MaxRoles)
	}
	if err := problems.Err(); err != nil {
		return store.User{}, err
	}
	for _, key := range [...]struct{ value, field string }{{username, "Username"}, {email, "Email"}} {
		if _, err := s.cfg.Store.GetUserByLogin(ctx, key.value); err == nil {
			return store.User{}, web.Conflict("%s already exists", key.field).With("detail", key.field+" already exists")
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.User{}, unavailable("check user", err)
		}
	}
	hash, err := s.hash(ctx, in.Password)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.cfg.Now()
	u, err := s.cfg.Store.CreateUser(ctx, store.User{Username: username, Email: email, PasswordHash: hash,
		FirstName: in.FirstName, LastName: in.LastName, DisplayName: in.DisplayName, Bio: in.Bio,
		Active: in.Active, Verified: in.Verified, PasswordChangedAt: now, RoleIDs: in.RoleIDs, CreatedAt: now})
	switch {
	case errors.Is(err, store.ErrConflict):
		return store.User{}, web.Conflict("Username or email already exists").With("detail", "Username or email already exists")
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, web.Invalid("role_ids: a role does not exist")
	case err != nil:
		return store.User{}, unavailable("create user", err)
	}
	return u, nil
}

// Get returns a user by id; 404 when there is none.
func (s *Service) Get(ctx context.Context, id string) (store.User, error) {
	if !store.IsID(id) {
		return store.User{}, web.NotFound("User")
	}
	u, err := s.cfg.Store.GetUser(ctx, strings.ToLower(id))
	if err != nil {
		return store.User{}, userErr("load user", err)
	}
	return u, nil
}

// UpdateProfile applies a user's change to their own profile. A new
// email address is unverified until confirmed.
func (s *Service) UpdateProfile(ctx context.Context, id string, p Profile, m Meta) (store.User, error) {
	return s.update(ctx, id, Update{Profile: p}, m, "user.profile_updated")
}

// Update applies an administrator's change. The caller must have checked
// that the actor may administer users; a user may never change their own
// roles or flags (the API refuses that before calling).
func (s *Service) Update(ctx context.Context, id string, upd Update, m Meta) (store.User, error) {
	return s.update(ctx, id, upd, m, "user.updated")
}

func (s *Service) update(ctx context.Context, id string, upd Update, m Meta, event string) (store.User, error) {
	var problems web.Fields
	var email string
	if upd.Email != nil {
		email = checkEmail(*upd.Email, &problems)
	}
	checkNames(upd.Profile, &problems)
	if upd.RoleIDs != nil && len(*upd.RoleIDs) > MaxRoles {
		problems.Addf("role_ids: at most %d roles", MaxRoles)
	}
	if err := problems.Err(); err != nil {
		return store.User{}, err
	}
	if _, err := s.Get(ctx, id); err != nil {
		return store.User{}, err
	}
	id = strings.ToLower(id)
	if upd.Email != nil {
		if other, err := s.cfg.Store.GetUserByLogin(ctx, email); err == nil && other.ID != id {
			return store.User{}, web.Conflict("Email already exists").With("detail", "Email already exists")
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, unavailable("check email", err)
		}
	}
	changed := []string{}
	u, err := s.cfg.Store.UpdateUser(ctx, id, func(x store.User) (store.User, error) {
		set := func(field string, dst *string, v *string) {
			if v != nil && *v != *dst {
				*dst = *v
				changed = append(changed, field)
			}
		}
		if upd.Email != nil && email != x.Email {
			x.Email, x.Verified = email, false
			changed = append(changed, "email")
		}
		set("first_name", &x.FirstName, upd.FirstName)
		set("last_name", &x.LastName, upd.LastName)
		set("display_name", &x.DisplayName, upd.DisplayName)
		set("bio", &x.Bio, upd.Bio)
		if upd.Active != nil && *upd.Active != x.Active {
			x.Active = *upd.Active
			changed = append(changed, "is_active")
		}
		if upd.Verified != nil && *upd.Verified != x.Verified {
			x.Verified = *upd.Verified
			changed = append(changed, "is_verified")
		}
		if upd.RoleIDs != nil {
			x.RoleIDs = *upd.RoleIDs
			changed = append(changed, "roles")
		}
		return x, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) && upd.RoleIDs != nil {
			return store.User{}, web.Invalid("role_ids: a role does not exist")
		}
		return store.User{}, userErr("update user", err)
	}
	s.record(ctx, m, event, outcomeSuccess, id, map[string]any{"fields": changed})
	if upd.Active != nil && !*upd.Active {
		// A disabled user's tokens already fail the subject check; ending
		// the sessions also stops their refresh tokens for good.
		if _, err := s.endAllSessions(ctx, id, ""); err != nil {
			s.cfg.Logger.WarnContext(ctx, "end sessions of disabled user", "user_id", id, "err", err)
		}
	}
	return u, nil
}

// Delete removes a user; their sessions and refresh tokens go with them.
func (s *Service) Delete(ctx context.Context, id string, m Meta) error {
	if !store.IsID(id) {
		return web.NotFound("User")
	}
	if err := s.cfg.Store.DeleteUser(ctx, strings.ToLower(id)); err != nil {
		return userErr("delete user", err)
	}
	s.record(ctx, m, "user.deleted", outcomeSuccess, strings.ToLower(id), nil)
	return nil
}

// userErr maps a store error about a user to an API error.
func userErr(what string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound("User")
	case errors.Is(err, store.ErrConflict):
		return web.Conflict("Username or email already exists")
	}
	if _, ok := web.AsError(err); ok {
		return err
	}
	return unavailable(what, err)
}

// checkUsername validates a username (3-50 of [A-Za-z0-9_-]) and returns
// it lowercased.
func checkUsername(s string, problems *web.Fields) string {
	n := len(s)
	ok := n >= minUsername && n <= maxUsername
	for i := 0; ok && i < n; i++ {
		c := s[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		problems.Addf("username: 3 to 50 characters of letters, digits, '_' and '-'")
	}
	return strings.ToLower(s)
}

// checkEmail validates a bare email address and returns it lowercased.
func checkEmail(s string, problems *web.Fields) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s || len(s) > maxEmail || !plain(s) ||
		strings.ContainsAny(s, " <>\"'`;\\") || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		problems.Addf("email: not a valid email address")
		return ""
	}
	return strings.ToLower(s)
}

func checkNames(p Profile, problems *web.Fields) {
	for _, f := range [...]struct {
		name string
		v    *string
		max  int
	}{{"first_name", p.FirstName, maxName}, {"last_name", p.LastName, maxName}, {"display_name", p.DisplayName, maxName}, {"bio", p.Bio, maxBio}} {
		if f.v == nil {
			continue
		}
		if utf8.RuneCountInString(*f.v) > f.max || !web.PlainText(*f.v, f.name == "bio") {
			problems.Addf("%s: at most %d characters of plain text", f.name, f.max)
		}
	}
}

// plain reports valid UTF-8 without control characters.
func plain(s string) bool { return web.PlainText(s, false) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// ErrForbiddenSelf is the answer when users try to change their own
// roles or flags.
func ErrForbiddenSelf(field string) error {
	return web.Errorf(http.StatusForbidden, wire.ErrForbidden, "You cannot change your own %s", field)
}
