package api

import (
	"net/http"
	"strings"

	"github.com/permiso-auth/permiso/internal/account"
	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// This file holds the endpoints about one user: me/profile, /{id}, the
// password change, unlock, and the mailed-token flows.

// targetUser loads the user an administrator acts upon and applies the
// delegation rule to them (404 for an unknown id, 403 for a user holding
// more than the caller).
func (p *people) targetUser(r *http.Request, c *wire.Claims, id string) (store.User, error) {
	u, err := p.pc.Accounts.Get(r.Context(), id)
	if err != nil {
		return store.User{}, err
	}
	if err := p.mayActOn(r, c, userPrincipal(u)); err != nil {
		return store.User{}, err
	}
	return u, nil
}

func (p *people) getMe(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireUser(r)
	if err != nil {
		return err
	}
	u, err := p.pc.Accounts.Get(r.Context(), c.Subject)
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, u)
	return nil
}

// profile is the part of an update a user may make to their own account.
func profile(b apitype.UserUpdate) account.Profile {
	return account.Profile{Email: b.Email, FirstName: b.FirstName, LastName: b.LastName, DisplayName: b.DisplayName, Bio: b.Bio}
}

// refuseSelfFlags is the rule that users never change their own roles,
// active or verified flags, whoever they are.
func refuseSelfFlags(b apitype.UserUpdate) error {
	if b.RoleIDs != nil {
		return account.ErrForbiddenSelf("roles")
	}
	if b.IsActive != nil || b.IsVerified != nil {
		return account.ErrForbiddenSelf("active or verified flags")
	}
	return nil
}

func (p *people) updateMe(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireUser(r)
	if err != nil {
		return err
	}
	var b apitype.UserUpdate
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := refuseSelfFlags(b); err != nil {
		p.record(r.Context(), p.event(r, c, "user.self_escalation_denied", "denied", c.Subject, nil))
		return err
	}
	u, err := p.pc.Accounts.UpdateProfile(r.Context(), c.Subject, profile(b), p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, u)
	return nil
}

func (p *people) getUser(w http.ResponseWriter, r *http.Request) error {
	_, id, _, err := p.selfOrAdmin(r)
	if err != nil {
		return err
	}
	u, err := p.pc.Accounts.Get(r.Context(), id)
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, u)
	return nil
}

// updateUser is PUT /users/{id}: users may change their own profile;
// administrators also flags and roles of others.
func (p *people) updateUser(w http.ResponseWriter, r *http.Request) error {
	c, id, self, err := p.selfOrAdmin(r)
	if err != nil {
		return err
	}
	var b apitype.UserUpdate
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if self {
		if err := refuseSelfFlags(b); err != nil {
			p.record(r.Context(), p.event(r, c, "user.self_escalation_denied", "denied", c.Subject, nil))
			return err
		}
	} else if _, err := p.targetUser(r, c, id); err != nil {
		return err
	}
	upd := account.Update{Profile: profile(b), Active: b.IsActive, Verified: b.IsVerified}
	if b.RoleIDs != nil {
		ids, err := p.resolveRoles(r.Context(), *b.RoleIDs)
		if err != nil {
			return err
		}
		if err := p.mayGrantRoles(r, c, "user "+id, ids); err != nil {
			return err
		}
		upd.RoleIDs = &ids
	}
	u, err := p.pc.Accounts.Update(r.Context(), id, upd, p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, u)
	return nil
}

func (p *people) deleteUser(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireAdmin(r, "admin:users")
	if err != nil {
		return err
	}
	id := strings.ToLower(r.PathValue("id"))
	if c.Type == wire.ClaimTypeAccess && c.Subject == id {
		return web.Forbidden("forbidden", "Cannot delete your own account").With("detail", "Cannot delete your own account")
	}
	if _, err := p.targetUser(r, c, id); err != nil {
		return err
	}
	if err := p.pc.Accounts.Delete(r.Context(), id, p.meta(r, c)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// changePassword is PUT /users/{id}/password. Users give their current
// password; administrators changing someone else's do not. Every other
// session of the user ends (see account.Service.ChangePassword).
func (p *people) changePassword(w http.ResponseWriter, r *http.Request) error {
	c, id, self, err := p.selfOrAdmin(r)
	if err != nil {
		return err
	}
	var b apitype.PasswordChange
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if self && b.CurrentPassword == "" {
		return web.Invalid("current_password: field required")
	}
	if !self {
		if _, err := p.targetUser(r, c, id); err != nil {
			return err
		}
	}
	keep := ""
	if self {
		keep = c.SessionID
	}
	if err := p.pc.Accounts.ChangePassword(r.Context(), id, b.CurrentPassword, b.NewPassword, self, keep, p.meta(r, c)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, apitype.Message{Message: "Password updated successfully"})
	return nil
}

func (p *people) unlockUser(w http.ResponseWriter, r *http.Request) error {
	c, err := p.requireAdmin(r, "admin:users")
	if err != nil {
		return err
	}
	if _, err := p.targetUser(r, c, r.PathValue("id")); err != nil {
		return err
	}
	u, err := p.pc.Accounts.Unlock(r.Context(), r.PathValue("id"), p.meta(r, c))
	if err != nil {
		return err
	}
	p.writeUser(w, http.StatusOK, u)
	return nil
}

type emailBody struct {
	Email string `json:"email"`
}

type tokenConfirm struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password,omitempty"`
}

func (p *people) resetRequest(w http.ResponseWriter, r *http.Request) error {
	var b emailBody
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := p.pc.Accounts.RequestPasswordReset(r.Context(), b.Email, p.meta(r, nil)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": account.ResetRequested})
	return nil
}

func (p *people) resetConfirm(w http.ResponseWriter, r *http.Request) error {
	var b tokenConfirm
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := p.pc.Accounts.ConfirmPasswordReset(r.Context(), b.Token, b.NewPassword, p.meta(r, nil)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Password reset successfully"})
	return nil
}

func (p *people) verifyRequest(w http.ResponseWriter, r *http.Request) error {
	var b emailBody
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := p.pc.Accounts.RequestEmailVerification(r.Context(), b.Email, p.meta(r, nil)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": account.VerifyRequested})
	return nil
}

func (p *people) verifyConfirm(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Token string `json:"token"`
	}
	if err := web.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	if err := p.pc.Accounts.ConfirmEmailVerification(r.Context(), b.Token, p.meta(r, nil)); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Email verified successfully"})
	return nil
}
