package guard

import (
	"context"
	"errors"
	"fmt"

	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Transaction tokens (draft-ietf-oauth-transaction-tokens-11, experimental):
// a workload receives one in the Txn-Token header beside its access token,
// verifies it (§12.2: signature, aud = the trust domain, not expired) and
// passes it on unmodified.

// newTxnVerifier returns the verifier of transaction tokens for cfg, or nil
// when the guard does not read them.
func newTxnVerifier(cfg Config, keys jwt.KeySet) (*jwt.Verifier, error) {
	if cfg.TrustDomain == "" {
		return nil, nil
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = -1
	}
	return jwt.NewVerifier(jwt.Config{
		Keys:       keys,
		Types:      []string{wire.TxnTokenJWTType},
		Algorithms: cfg.Algorithms,
		Issuer:     cfg.Issuer,
		Audience:   []string{cfg.TrustDomain},
		Require:    []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimAudience, jwt.ClaimExpiry, jwt.ClaimIssuedAt},
		Leeway:     leeway,
		Now:        cfg.Now,
		MaxBytes:   cfg.MaxTokenBytes,
	})
}

// VerifyTxnToken checks raw, a transaction token as received in the
// Txn-Token header: typ txntoken+jwt, the issuer's signature and iss, aud
// naming Config.TrustDomain, iat and exp, the txn, sub, scope and req_wl
// claims, and, when the guard follows the revocation list, that neither it
// nor the token it was derived from was revoked. Errors wrap
// [ErrInvalidToken] or [ErrUnavailable].
func (g *Guard) VerifyTxnToken(ctx context.Context, raw string) (*wire.TxnClaims, error) {
	if g.txnVerifier == nil {
		return nil, invalid("this guard has no TrustDomain: transaction tokens are not accepted")
	}
	if raw == "" {
		return nil, invalid("empty transaction token")
	}
	tok, err := g.txnVerifier.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, jwt.ErrInvalid) {
			return nil, invalid("transaction token: %v", err)
		}
		return nil, fmt.Errorf("%w: transaction token keys: %v", ErrUnavailable, err)
	}
	var c wire.TxnClaims
	if err := tok.Decode(&c); err != nil {
		return nil, invalid("transaction token: %v", err)
	}
	if c.Txn == "" || c.RequestingWorkload == "" {
		return nil, invalid("transaction token without txn or req_wl")
	}
	if g.revs.revoked(&wire.Claims{ID: c.ID, SessionID: c.SessionID, RootID: c.RootID}) {
		return nil, invalid("transaction token revoked")
	}
	return &c, nil
}
