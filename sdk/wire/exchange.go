package wire

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Token exchange (RFC 8693) and transaction tokens
// (draft-ietf-oauth-transaction-tokens-11, experimental in Permiso).
const (
	// GrantTokenExchange is the grant_type of RFC 8693 §2.1.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

	// Token type identifiers (RFC 8693 §3), sent as subject_token_type,
	// actor_token_type, requested_token_type and issued_token_type.
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
	// TokenTypeTxnToken asks for, and names, a transaction token.
	TokenTypeTxnToken = "urn:ietf:params:oauth:token-type:txn_token"

	// TokenTypeNA is the token_type of a token response whose token is not
	// an access token (RFC 8693 §2.2.1), such as a transaction token.
	TokenTypeNA = "N_A"

	// TxnTokenJWTType is the typ header of a transaction token.
	TxnTokenJWTType = "txntoken+jwt"
	// HeaderTxnToken is the HTTP header that carries exactly one
	// transaction token from workload to workload; never Authorization.
	HeaderTxnToken = "Txn-Token"
)

// TxnClaims are the claims of a transaction token
// (draft-ietf-oauth-transaction-tokens-11 §9.2). Permiso adds jti, sid,
// root_jti and act so that a transaction token is revoked with the token it
// was derived from and names the workloads that acted before.
type TxnClaims struct {
	Issuer   string   `json:"iss,omitempty"`
	IssuedAt int64    `json:"iat"`
	Audience Audience `json:"aud"` // the trust domain
	Expiry   int64    `json:"exp"`
	// Txn identifies the transaction (RFC 8417 §2.2).
	Txn     string `json:"txn"`
	Subject string `json:"sub"`
	// Scope is the purpose of the transaction, space-separated.
	Scope string `json:"scope"`
	// RequestingWorkload (req_wl) is the client that asked for the token.
	RequestingWorkload string `json:"req_wl"`
	// RequestContext (rctx) describes the environment of the request.
	RequestContext json.RawMessage `json:"rctx,omitempty"`
	// TransactionContext (tctx) holds the details that stay immutable
	// along the call chain.
	TransactionContext json.RawMessage `json:"tctx,omitempty"`

	ID        string `json:"jti,omitempty"`
	SessionID string `json:"sid,omitempty"`
	RootID    string `json:"root_jti,omitempty"`
	Act       *Actor `json:"act,omitempty"`
}

// MayAct is the may_act claim of RFC 8693 §4.4: the parties allowed to
// become the actor for the token's subject. One party is a JSON object, as
// the RFC defines it; Permiso encodes several as an array of such objects
// and accepts either form.
type MayAct []Actor

// Allows reports whether the party with client id clientID is named.
func (m MayAct) Allows(clientID string) bool {
	for _, a := range m {
		if a.ClientID == clientID || (a.ClientID == "" && a.Subject == clientID) {
			return clientID != ""
		}
	}
	return false
}

func (m MayAct) MarshalJSON() ([]byte, error) {
	if len(m) == 1 {
		return json.Marshal(m[0])
	}
	return json.Marshal([]Actor(m))
}

func (m *MayAct) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var a Actor
		if err := json.Unmarshal(b, &a); err != nil {
			return errors.New("may_act: want an object or an array of objects")
		}
		*m = MayAct{a}
		return nil
	}
	var l []Actor
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("may_act: want an object or an array of objects")
	}
	*m = l
	return nil
}

// Chain returns the actors of a, the current one first and the earliest
// last; nil for a nil a.
func (a *Actor) Chain() []Actor {
	var out []Actor
	for ; a != nil; a = a.Act {
		out = append(out, Actor{Subject: a.Subject, ClientID: a.ClientID})
	}
	return out
}

// Depth is the number of actors in the chain a starts.
func (a *Actor) Depth() int {
	n := 0
	for ; a != nil; a = a.Act {
		n++
	}
	return n
}
