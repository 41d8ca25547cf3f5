package guard

import (
	"fmt"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// Requirement is a condition on a verified token's claims, built with
// [AllOf], [AnyOf] or [Trusted].
type Requirement struct {
	kind   requirementKind
	scopes []string
}

type requirementKind int

const (
	allOf requirementKind = iota
	anyOf
	trusted
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

// Denial is the error of [Check]: the token is valid but not sufficient.
// Code is wire.ErrInsufficientScope for scope requirements and
// wire.ErrForbidden for [Trusted].
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
	for _, r := range reqs {
		if d := r.check(c); d != nil {
			return d
		}
	}
	return nil
}

func (r Requirement) check(c *wire.Claims) *Denial {
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
	}
	return &Denial{Code: wire.ErrForbidden, Description: "Unknown requirement"}
}
