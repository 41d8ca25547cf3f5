package guard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Requirement is a condition on a verified token's claims, built with
// [AllOf], [AnyOf], [Trusted], [ActingForUser], [NoImpersonation],
// [ActedBy] or [WithTxnToken].
type Requirement struct {
	kind   requirementKind
	scopes []string // the scopes, or the client ids of ActedBy
}

type requirementKind int

const (
	allOf requirementKind = iota
	anyOf
	trusted
	reqActingForUser
	reqNoImpersonation
	reqActedBy
	reqTxnToken
)

// AllOf requires every one of scopes, directly or through the implied-scope
// rule of [wire.HasScope].
func AllOf(scopes ...string) Requirement {
	return Requirement{kind: allOf, scopes: slices.Clone(scopes)}
}

// AnyOf requires at least one of scopes, directly or through the
// implied-scope rule of [wire.HasScope]. With no scopes it is always met.
func AnyOf(scopes ...string) Requirement {
	return Requirement{kind: anyOf, scopes: slices.Clone(scopes)}
}

// Trusted requires a token of a trusted client (the is_trusted claim).
func Trusted() Requirement { return Requirement{kind: trusted} }

// ActingForUser requires a delegated user token: its subject is a user and
// an act claim names the service acting for them (RFC 8693 §4.1), as a
// token obtained by token exchange for a user carries.
func ActingForUser() Requirement { return Requirement{kind: reqActingForUser} }

// NoImpersonation refuses a token obtained by impersonation: one derived
// from another token (root_jti) whose current actor is not the party that
// obtained it, so that a caller can never pass for the subject.
func NoImpersonation() Requirement { return Requirement{kind: reqNoImpersonation} }

// ActedBy requires a delegated token whose current actor (the outermost act
// claim) is one of the given clients.
func ActedBy(clientIDs ...string) Requirement {
	return Requirement{kind: reqActedBy, scopes: slices.Clone(clientIDs)}
}

// WithTxnToken requires a valid transaction token in the Txn-Token header
// (Config.TrustDomain must be set). Only [Guard.Require] can meet it:
// [Check] sees the access token's claims alone.
func WithTxnToken() Requirement { return Requirement{kind: reqTxnToken} }

// Denial is the error of [Check]: the token is valid but not sufficient.
// Code is wire.ErrInsufficientScope for scope requirements and
// wire.ErrForbidden for the others.
type Denial struct {
	Code        string
	Description string
	// Required and Missing are the scopes of the failed requirement and
	// those the token does not satisfy.
	Required []string
	Missing  []string
}

func (d *Denial) Error() string { return "guard: " + d.Code + ": " + d.Description }

// Check returns nil when c meets every requirement, and otherwise a
// [*Denial] for the first one it does not meet.
func Check(c *wire.Claims, reqs ...Requirement) error {
	if d := check(c, nil, reqs); d != nil {
		return d
	}
	return nil
}

func check(c *wire.Claims, txn *wire.TxnClaims, reqs []Requirement) *Denial {
	for _, r := range reqs {
		if d := r.check(c, txn); d != nil {
			return d
		}
	}
	return nil
}

func (r Requirement) check(c *wire.Claims, txn *wire.TxnClaims) *Denial {
	switch r.kind {
	case allOf:
		missing := wire.MissingScopes(c.Scopes, r.scopes)
		if len(missing) == 0 {
			return nil
		}
		return &Denial{
			Code:        wire.ErrInsufficientScope,
			Description: fmt.Sprintf("Missing required scopes: %s", strings.Join(missing, ", ")),
			Required:    r.scopes,
			Missing:     missing,
		}
	case anyOf:
		if len(r.scopes) == 0 {
			return nil
		}
		for _, s := range r.scopes {
			if wire.HasScope(c.Scopes, s) {
				return nil
			}
		}
		return &Denial{
			Code:        wire.ErrInsufficientScope,
			Description: fmt.Sprintf("One of these scopes is required: %s", strings.Join(r.scopes, ", ")),
			Required:    r.scopes,
			Missing:     r.scopes,
		}
	case trusted:
		if c.Trusted() {
			return nil
		}
		return &Denial{Code: wire.ErrForbidden, Description: "Trusted client required"}
	case reqActingForUser:
		if actingForUser(c) {
			return nil
		}
		return &Denial{Code: wire.ErrForbidden, Description: "A service acting for a user is required"}
	case reqNoImpersonation:
		if !impersonated(c) {
			return nil
		}
		return &Denial{Code: wire.ErrForbidden, Description: "Impersonation is not accepted here"}
	case reqActedBy:
		if c.Act != nil && c.Act.ClientID != "" && slices.Contains(r.scopes, c.Act.ClientID) {
			return nil
		}
		return &Denial{Code: wire.ErrForbidden, Description: fmt.Sprintf("The acting service must be one of: %s", strings.Join(r.scopes, ", "))}
	case reqTxnToken:
		if txn != nil {
			return nil
		}
		return &Denial{Code: wire.ErrForbidden, Description: "A transaction token (" + wire.HeaderTxnToken + " header) is required"}
	}
	return &Denial{Code: wire.ErrForbidden, Description: "Unknown requirement"}
}
