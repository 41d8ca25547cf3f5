package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Errors from Verify. They are for logs and tests; callers answer every
// one of them the same way (inactive / invalid_token).
var (
	ErrInvalid   = errors.New("token invalid")
	ErrExpired   = errors.New("token expired")
	ErrNotYet    = errors.New("token not yet valid")
	ErrWrongType = errors.New("not an access token")
)

// Config configures a Service.
type Config struct {
	Keys   *keys.Manager
	Issuer string
	Leeway time.Duration // clock skew allowed on exp/nbf/iat; default 30s
	Now    func() time.Time
	// VerifiedCacheSize bounds the tokens whose signature check is
	// remembered (default 10,000; negative: none), so a token presented
	// again costs a map lookup instead of a signature verification.
	VerifiedCacheSize int
}

// Service mints and verifies access tokens.
type Service struct {
	cfg      Config
	verified verifiedCache
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.VerifiedCacheSize == 0 {
		cfg.VerifiedCacheSize = 10000
	}
	return &Service{cfg: cfg, verified: verifiedCache{max: cfg.VerifiedCacheSize, m: make(map[string]*wire.Claims)}}
}

// Issuer returns the issuer URL the service signs as.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Mint signs c as an access token valid for ttl. It fills iss, iat, nbf,
// exp and jti, and returns the token with the claims as signed.
func (s *Service) Mint(c wire.Claims, ttl time.Duration) (string, wire.Claims, error) {
	now := s.cfg.Now().Unix()
	c.Issuer = s.cfg.Issuer
	c.IssuedAt, c.NotBefore, c.Expiry = now, now, now+int64(ttl/time.Second)
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

// Verify checks a token's form, header, signature, issuer and times. It
// does not consult the revocation list or the state of the client or user;
// callers that must (introspection, API authentication) do that next.
func (s *Service) Verify(raw string) (*wire.Claims, error) {
	if c, ok := s.verified.get(raw); ok {
		if err := s.checkTimes(c); err != nil {
			return c, err
		}
		return c, nil
	}
	p, err := Parse(raw)
	if err != nil {
		return nil, ErrInvalid
	}
	if !strings.EqualFold(p.Header.Typ, wire.AccessTokenJWTType) && !strings.EqualFold(p.Header.Typ, "application/at+jwt") {
		return nil, ErrWrongType
	}
	pub, alg, ok := s.cfg.Keys.PublicKey(p.Header.Kid)
	if !ok || alg != p.Header.Alg || !keys.VerifySignature(alg, pub, p.SigningInput, p.Signature) {
		return nil, ErrInvalid
	}
	var c wire.Claims
	if err := json.Unmarshal(p.Payload, &c); err != nil {
		return nil, ErrInvalid
	}
	if c.Issuer != s.cfg.Issuer || c.ID == "" {
		return nil, ErrInvalid
	}
	if err := s.checkTimes(&c); err != nil {
		return &c, err
	}
	s.verified.put(raw, &c)
	return &c, nil
}

// checkTimes checks exp, nbf and iat with the leeway.
func (s *Service) checkTimes(c *wire.Claims) error {
	now := s.cfg.Now()
	leeway := int64(s.cfg.Leeway / time.Second)
	switch {
	case c.Expiry == 0 || now.Unix() > c.Expiry+leeway:
		return ErrExpired
	case c.NotBefore != 0 && now.Unix()+leeway < c.NotBefore:
		return ErrNotYet
	case c.IssuedAt != 0 && now.Unix()+leeway < c.IssuedAt:
		return ErrNotYet
	}
	return nil
}

// NewID returns a random 128-bit identifier for a jti, base64url encoded.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Opaque token prefixes, so leaked tokens are recognisable to scanners and
// to us (a refresh token presented as a bearer is refused by its prefix).
const (
	RefreshPrefix = "pmr_"
	CodePrefix    = "pmc_"
	UserTokPrefix = "pmu_"
)

// NewOpaque returns a random 256-bit token with the prefix, and the
// SHA-256 hash under which it is stored. High entropy makes a fast hash
// safe here: there is nothing to brute-force.
func NewOpaque(prefix string) (token string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	token = prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashOpaque(token)
}

// HashOpaque returns the lookup hash of an opaque token.
func HashOpaque(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
