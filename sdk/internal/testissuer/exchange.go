package testissuer

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// exchange answers a token exchange (RFC 8693) the simple way the SDK's
// tests need: the subject token must be one of this issuer's, the
// audience one of the client's, the scopes a subset of the subject's;
// the result names the client as the actor and ends with the subject
// token. A transaction token is returned for requested_token_type
// txn_token. The form of every exchange is kept in Exchanges.
func (i *Issuer) exchange(w http.ResponseWriter, r *http.Request, clientID string, c Client) {
	i.mu.Lock()
	i.Exchanges = append(i.Exchanges, cloneForm(r.PostForm))
	i.mu.Unlock()
	bad := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: code, Description: desc})
	}
	tok, err := i.verifier().Verify(r.Context(), r.PostFormValue("subject_token"))
	var sub wire.Claims
	if err != nil || tok.Decode(&sub) != nil || i.isRevoked(sub.ID) {
		bad(wire.ErrInvalidRequest, "The subject token is invalid")
		return
	}
	scopes := strings.Fields(r.PostFormValue("scope"))
	if len(scopes) == 0 {
		scopes = sub.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(sub.Scopes, s) {
			bad(wire.ErrInvalidScope, "Scope not allowed: "+s)
			return
		}
	}
	aud := r.PostFormValue("audience")
	now := i.now()
	exp := min(sub.Expiry, now.Add(time.Hour).Unix())
	if r.PostFormValue("requested_token_type") == wire.TokenTypeTxnToken {
		txn := wire.TxnClaims{Issuer: i.URL, IssuedAt: now.Unix(), Audience: wire.Audience{aud}, Expiry: min(exp, now.Add(time.Minute).Unix()),
			Txn: "txn-" + sub.ID, Subject: sub.Subject, Scope: strings.Join(scopes, " "), RequestingWorkload: clientID,
			RequestContext: json.RawMessage(r.PostFormValue("request_context")), TransactionContext: json.RawMessage(r.PostFormValue("request_details"))}
		writeJSON(w, http.StatusOK, wire.TokenResponse{AccessToken: i.MintWith(i.SigningKey(), wire.TxnTokenJWTType, txn),
			TokenType: wire.TokenTypeNA, IssuedTokenType: wire.TokenTypeTxnToken, ExpiresIn: txn.Expiry - now.Unix()})
		return
	}
	if !slices.Contains(c.Audiences, aud) {
		bad(wire.ErrInvalidTarget, "Audience not allowed")
		return
	}
	out := i.Claims(sub.Subject, aud, scopes...)
	out.Type, out.ClientID, out.Expiry, out.Scope = sub.Type, clientID, exp, strings.Join(scopes, " ")
	out.RootID = sub.RootID
	if out.RootID == "" {
		out.RootID = sub.ID
	}
	out.Act = &wire.Actor{Subject: clientID, ClientID: clientID, Act: sub.Act}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, wire.TokenResponse{AccessToken: i.Mint(out), TokenType: wire.TokenTypeBearer,
		ExpiresIn: exp - now.Unix(), Scope: out.Scope, IssuedTokenType: wire.TokenTypeAccessToken})
}

func cloneForm(f url.Values) url.Values {
	out := make(url.Values, len(f))
	for k, v := range f {
		out[k] = slices.Clone(v)
	}
	return out
}
