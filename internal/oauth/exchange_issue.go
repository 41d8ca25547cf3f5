package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// MayActOf returns the may_act claim of the tokens issued to c: the
// clients its token-exchange policy allows to act for their subjects
// (RFC 8693 §4.4), or nil.
func MayActOf(c *store.Client) wire.MayAct {
	if c == nil || len(c.TokenExchange.Actors) == 0 {
		return nil
	}
	m := make(wire.MayAct, len(c.TokenExchange.Actors))
	for i, id := range c.TokenExchange.Actors {
		m[i] = wire.Actor{Subject: id, ClientID: id}
	}
	return m
}

// rootOf is the root_jti of a token derived from sub: sub's own root, or
// sub itself when it was not derived.
func rootOf(sub *wire.Claims) string {
	if sub.RootID != "" {
		return sub.RootID
	}
	return sub.ID
}

// issue mints the access token of a delegation or impersonation. It ends
// with the subject token (Mint caps exp at the one set here).
func (x *Exchange) issue(req *TokenRequest, c *store.Client, ex *exchange) (*TokenResult, error) {
	sub := ex.subject
	if sub.Expiry <= x.cfg.Now().Unix() {
		return nil, errSubjectInvalid("subject_expired")
	}
	life := time.Duration(c.AccessTokenLifetime) * time.Second
	claims := wire.Claims{Subject: sub.Subject, Audience: ex.aud, ClientID: c.ClientID,
		Scope: strings.Join(ex.scopes, " "), Scopes: ex.scopes, Type: sub.Type, Username: sub.Username,
		SessionID: sub.SessionID, AuthTime: sub.AuthTime, Act: ex.act, MayAct: MayActOf(c),
		RootID: rootOf(sub), Expiry: sub.Expiry, Cnf: ex.cnf}
	if sub.Type == wire.ClaimTypeService {
		trusted := sub.Trusted() && c.Trusted
		claims.IsTrusted = &trusted
	}
	res, err := x.cfg.Minter.Issue(claims, life)
	if err != nil {
		return nil, fmt.Errorf("mint exchanged token: %w", err)
	}
	res.ExpiresIn = res.Claims.Expiry - res.Claims.IssuedAt
	res.IssuedTokenType = wire.TokenTypeAccessToken
	if req.RequestedTokenType == wire.TokenTypeJWT {
		res.IssuedTokenType = wire.TokenTypeJWT
	}
	res.SessionID = sub.SessionID
	return res, nil
}

// issueTxn mints a transaction token (draft-ietf-oauth-transaction-
// tokens-11 §11.3): for the trust domain, with the narrowed scope as its
// purpose, the requesting client as req_wl, request_context as rctx and
// request_details as tctx. It lives TxnLifetime and never beyond the
// subject token.
func (x *Exchange) issueTxn(req *TokenRequest, c *store.Client, ex *exchange) (*TokenResult, error) {
	sub := ex.subject
	if sub.Expiry <= x.cfg.Now().Unix() {
		return nil, errSubjectInvalid("subject_expired")
	}
	rctx, err := jsonObject("request_context", req.RequestContext)
	if err != nil {
		return nil, err
	}
	tctx, err := jsonObject("request_details", req.RequestDetails)
	if err != nil {
		return nil, err
	}
	tok, signed, err := x.cfg.Minter.Tokens.MintTxn(wire.TxnClaims{Audience: ex.aud, Subject: sub.Subject,
		Scope: strings.Join(ex.scopes, " "), RequestingWorkload: c.ClientID, RequestContext: rctx,
		TransactionContext: tctx, SessionID: sub.SessionID, RootID: rootOf(sub), Act: ex.act, Expiry: sub.Expiry}, x.cfg.TxnLifetime)
	if err != nil {
		return nil, fmt.Errorf("mint transaction token: %w", err)
	}
	return &TokenResult{
		TokenResponse: wire.TokenResponse{AccessToken: tok, TokenType: wire.TokenTypeNA, ExpiresIn: signed.Expiry - signed.IssuedAt,
			Scope: signed.Scope, IssuedTokenType: wire.TokenTypeTxnToken},
		Claims: wire.Claims{Subject: signed.Subject, Audience: signed.Audience, ClientID: c.ClientID, Type: sub.Type,
			ID: signed.ID, Scope: signed.Scope, Scopes: ex.scopes, IssuedAt: signed.IssuedAt, Expiry: signed.Expiry,
			SessionID: signed.SessionID, RootID: signed.RootID, Act: signed.Act},
		SessionID: sub.SessionID,
	}, nil
}

// jsonObject checks that a request parameter holds a JSON object and
// returns it compacted; empty stays empty.
func jsonObject(name, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &obj); err != nil || obj == nil {
		return nil, exchangeError(wire.ErrInvalidRequest, name, "%s must be a JSON object", name)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(v)); err != nil {
		return nil, exchangeError(wire.ErrInvalidRequest, name, "%s must be a JSON object", name)
	}
	return b.Bytes(), nil
}

// record writes the audit event of an exchange, granted or refused.
func (x *Exchange) record(ctx context.Context, req *TokenRequest, c *store.Client, ex *exchange, res *TokenResult, err error) {
	d := map[string]any{"grant": wire.GrantTokenExchange, "subject_token_type": truncate(req.SubjectTokenType, 100)}
	if req.RequestedTokenType != "" {
		d["requested_token_type"] = truncate(req.RequestedTokenType, 100)
	}
	target := ""
	if sub := ex.subject; sub != nil {
		target = sub.Subject
		d["sub"], d["subject_client_id"], d["subject_jti"], d["root_jti"] = sub.Subject, sub.ClientID, sub.ID, rootOf(sub)
		if sub.SessionID != "" {
			d["sid"] = sub.SessionID
		}
		if ex.external != "" {
			d["trust"] = ex.external
		}
	}
	if ex.mode != "" {
		d["mode"] = ex.mode
		chain := []string{}
		for _, a := range ex.act.Chain() {
			chain = append(chain, a.Subject)
		}
		d["actor_chain"] = chain
	}
	if len(ex.aud) > 0 {
		d["aud"] = []string(ex.aud)
	}
	if ex.scopes != nil {
		d["scope"] = strings.Join(ex.scopes, " ")
	}
	ev := store.AuditEvent{Type: "token.exchanged", Outcome: audit.Success, ActorType: "client", ActorID: c.ClientID,
		Target: target, IP: req.IP, UserAgent: req.UserAgent, RequestID: req.RequestID, Details: d}
	if err != nil {
		ev.Type, ev.Outcome = "token.exchange_denied", audit.Denied
		var we *web.Error
		if errors.As(err, &we) {
			d["error"] = we.Code
			if we.Err != nil && we.Status < 500 {
				d["reason"] = we.Err.Error()
			}
		} else {
			d["error"] = wire.ErrServerError
		}
	} else {
		d["jti"], d["exp"], d["issued_token_type"] = res.Claims.ID, res.Claims.Expiry, res.IssuedTokenType
	}
	x.cfg.Audit.Record(ctx, ev)
}
