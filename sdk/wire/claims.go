package wire

import (
	"encoding/json"
	"errors"
	"slices"
)

// Claims are the claims of a Permiso access token: RFC 9068 §2.2 plus the
// original Permiso's `scopes`, `type`, `is_trusted`, `username` and `roles`.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	Expiry    int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	Scopes    []string `json:"scopes"`
	Type      string   `json:"type,omitempty"`
	IsTrusted *bool    `json:"is_trusted,omitempty"`
	Username  string   `json:"username,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	// Act names the party acting for Subject in a delegated token (RFC 8693
	// §4.1); nested Act values are earlier actors.
	Act *Actor `json:"act,omitempty"`
	// MayAct names the parties allowed to exchange this token and act for
	// its subject (RFC 8693 §4.4).
	MayAct MayAct `json:"may_act,omitempty"`
	// RootID is the jti of the token this one was derived from by token
	// exchange, through however many exchanges: revoking that token revokes
	// this one (the revocation feed's root_jti entries). Empty on a token
	// that was not derived.
	RootID string `json:"root_jti,omitempty"`
	// Cnf binds the token to a key (RFC 7800): DPoP (RFC 9449) or a client
	// certificate (RFC 8705). A verifier that cannot check the binding must
	// refuse the token.
	Cnf *Confirmation `json:"cnf,omitempty"`
}

// Actor is the act claim of RFC 8693 §4.1.
type Actor struct {
	Subject  string `json:"sub"`
	ClientID string `json:"client_id,omitempty"`
	Act      *Actor `json:"act,omitempty"`
}

// Confirmation is the cnf claim of RFC 7800 as RFC 9449 §6 (jkt) and RFC
// 8705 §3 (x5t#S256) use it.
type Confirmation struct {
	JKT     string `json:"jkt,omitempty"`
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// Trusted reports the is_trusted claim, false when absent.
func (c *Claims) Trusted() bool { return c.IsTrusted != nil && *c.IsTrusted }

// Audience is the `aud` claim: a single string or an array of strings on the
// wire (RFC 7519 §4.1.3). It always encodes as an array except for exactly
// one value, which encodes as a string as RFC 9068 examples do.
type Audience []string

// Contains reports whether aud holds s.
func (a Audience) Contains(s string) bool { return slices.Contains(a, s) }

func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *Audience) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("aud: want a string or an array of strings")
	}
	*a = l
	return nil
}
