package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/opaque"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Errors from Verify (those of package jwt). They are for logs and tests;
// callers answer every one of them the same way (inactive / invalid_token).
var (
	ErrInvalid = jwt.ErrInvalid // matched by every refusal
	ErrExpired = jwt.ErrExpired
	ErrNotYet  = jwt.ErrNotYetValid
)

// MaxTokenBytes bounds the size of an access token we are willing to parse.
const MaxTokenBytes = jwt.DefaultMaxBytes

// Config configures a Service.
type Config struct {
	Keys   *keys.Manager
	Issuer string
	Leeway time.Duration // clock skew allowed on exp/nbf/iat; default 30s, at most 5m
	Now    func() time.Time
	// VerifiedCacheSize bounds the tokens whose signature check is
	// remembered (default 10,000; negative: none), so a token presented
	// again costs a map lookup instead of a signature verification.
	VerifiedCacheSize int
}

// Service mints and verifies access tokens.
type Service struct {
	cfg      Config
	verifier *jwt.Verifier
	verified verifiedCache
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	cfg.Leeway = min(cfg.Leeway, 5*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.VerifiedCacheSize == 0 {
		cfg.VerifiedCacheSize = 10000
	}
	// RFC 9068 §4: typ at+jwt, and the claims §2.2 requires. aud is the
	// resource server's to check (Permiso's own API checks its own).
	v, err := jwt.NewVerifier(jwt.Config{
		Keys:       cfg.Keys,
		Types:      []string{wire.AccessTokenJWTType},
		Algorithms: keys.Algorithms,
		Issuer:     cfg.Issuer,
		Require:    []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimExpiry, jwt.ClaimIssuedAt, jwt.ClaimID},
		Leeway:     cfg.Leeway,
		Now:        cfg.Now,
		MaxBytes:   MaxTokenBytes,
	})
	if err != nil {
		// Every field above is valid by construction.
		panic(fmt.Sprintf("tokens: access-token verifier: %v", err))
	}
	return &Service{cfg: cfg, verifier: v, verified: verifiedCache{max: cfg.VerifiedCacheSize, m: make(map[string]*wire.Claims)}}
}

// Issuer returns the issuer URL the service signs as.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Mint signs c as an access token valid for ttl. It fills iss, iat, nbf,
// exp and jti, and returns the token with the claims as signed. An exp
// already set in c is a limit: the token never lives beyond it (a token
// obtained by exchange ends with its subject token).
func (s *Service) Mint(c wire.Claims, ttl time.Duration) (string, wire.Claims, error) {
	now := s.cfg.Now().Unix()
	c.Issuer = s.cfg.Issuer
	exp := now + int64(ttl/time.Second)
	if c.Expiry > 0 {
		exp = min(exp, c.Expiry)
	}
	c.IssuedAt, c.NotBefore, c.Expiry = now, now, exp
	c.ID = NewID()
	if c.Scopes == nil {
		c.Scopes = []string{}
	}
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", c, fmt.Errorf("encode claims: %w", err)
	}
	tok, err := s.cfg.Keys.Signer().Sign(payload)
	return tok, c, err
}

// MintTxn signs c as a transaction token (typ txntoken+jwt,
// draft-ietf-oauth-transaction-tokens-11 §9) valid for ttl, and never
// beyond an exp already set in c. It fills iss, iat, exp, jti and txn,
// and returns the token with the claims as signed.
func (s *Service) MintTxn(c wire.TxnClaims, ttl time.Duration) (string, wire.TxnClaims, error) {
	now := s.cfg.Now().Unix()
	c.Issuer = s.cfg.Issuer
	exp := now + int64(ttl/time.Second)
	if c.Expiry > 0 {
		exp = min(exp, c.Expiry)
	}
	c.IssuedAt, c.Expiry = now, exp
	c.ID, c.Txn = NewID(), NewTxnID()
	payload, err := json.Marshal(&c)
	if err != nil {
		return "", c, fmt.Errorf("encode transaction token claims: %w", err)
	}
	signer, err := s.cfg.Keys.Signer().WithType(wire.TxnTokenJWTType)
	if err != nil {
		return "", c, fmt.Errorf("transaction token signer: %w", err)
	}
	tok, err := signer.Sign(payload)
	return tok, c, err
}

// NewTxnID returns a random (version 4) UUID, the form of the txn claim
// (RFC 8417 §2.2 suggests a UUID).
func NewTxnID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Verify checks a token's form, header, signature, issuer, required
// claims and times with package jwt. It does not consult the revocation
// list or the state of the client or user; callers that must
// (introspection, API authentication) do that next.
func (s *Service) Verify(raw string) (*wire.Claims, error) {
	if c, ok := s.verified.get(raw); ok {
		if err := s.verifier.CheckTimes(&jwt.Claims{Expiry: jwt.NumericDate(c.Expiry),
			NotBefore: jwt.NumericDate(c.NotBefore), IssuedAt: jwt.NumericDate(c.IssuedAt)}); err != nil {
			return nil, err
		}
		return c, nil
	}
	// The key set is the manager's in-memory snapshot: no I/O, so no
	// context is needed.
	tok, err := s.verifier.Verify(context.Background(), raw)
	if err != nil {
		return nil, err
	}
	var c wire.Claims
	if err := tok.Decode(&c); err != nil {
		return nil, err
	}
	s.verified.put(raw, &c)
	return &c, nil
}

// NewID returns a random 128-bit identifier for a jti, base64url encoded.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Opaque token prefixes, so leaked tokens are recognisable to scanners and
// to us (a refresh token presented as a bearer is refused by its prefix).
// The account package owns its own (password reset, email verification).
const (
	RefreshPrefix = "pmr_"
	CodePrefix    = "pmc_"
)

// NewOpaque returns a random 256-bit token with the prefix and its lookup
// hash (package opaque).
func NewOpaque(prefix string) (token string, hash []byte) { return opaque.New(prefix) }

// HashOpaque returns the lookup hash of an opaque token.
func HashOpaque(token string) []byte { return opaque.Hash(token) }
