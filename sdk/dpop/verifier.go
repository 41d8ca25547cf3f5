package dpop

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// Defaults of a [Config].
const (
	// DefaultMaxAge is how old a proof's iat may be.
	DefaultMaxAge = 60 * time.Second
	// DefaultLeeway is the clock skew allowed on iat, either way.
	DefaultLeeway = 5 * time.Second
	// maxJTI bounds a proof's jti.
	maxJTI = 256
)

// Replay remembers accepted proofs. Use records id until exp and returns an
// error matching [ErrReplayed] when id is already recorded and unexpired.
// Any other error means it could not tell; the proof is then refused (the
// caller answers "try later"), never accepted.
type Replay interface {
	Use(ctx context.Context, id string, exp time.Time) error
}

// Config says what a [Verifier] accepts. The zero value of every field but
// Replay selects the documented default.
type Config struct {
	// Algorithms is the allow-list of proof algorithms; empty means every
	// one of [jwt.Algorithms] (asymmetric only).
	Algorithms []string
	// MaxAge is how old a proof may be (by its iat); zero means
	// DefaultMaxAge.
	MaxAge time.Duration
	// Leeway is the clock skew allowed on iat; zero means DefaultLeeway,
	// negative means none. At most 5 minutes.
	Leeway time.Duration
	// Replay records each accepted proof's jti (with the key's thumbprint)
	// until the proof is too old to be accepted again. Required.
	Replay Replay
	// Nonces, when set, makes every proof carry a nonce these Nonces
	// issued (§8 at a token endpoint, §9 at a resource server);
	// Request.NoNonce exempts one request.
	Nonces *Nonces
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxBytes bounds a proof's size; zero means jwt.DefaultMaxBytes.
	MaxBytes int
}

// Verifier checks DPoP proofs. It is immutable and safe for concurrent use.
type Verifier struct {
	cfg  Config
	jwt  *jwt.Verifier
	keys *keyCache
}

// NewVerifier returns a verifier for cfg, or an error naming every problem.
func NewVerifier(cfg Config) (*Verifier, error) {
	var problems []string
	if cfg.Replay == nil {
		problems = append(problems, "Replay is required")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = jwt.Algorithms()
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	switch {
	case cfg.MaxAge == 0:
		cfg.MaxAge = DefaultMaxAge
	case cfg.MaxAge < 0:
		problems = append(problems, "MaxAge must not be negative")
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	case cfg.Leeway > 5*time.Minute:
		problems = append(problems, "Leeway must be at most 5m")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = -1 // none: jwt reads zero as its default
	}
	keys := &keyCache{}
	jv, err := jwt.NewVerifier(jwt.Config{
		KeyFromHeader: true,
		HeaderKey:     keys.parse,
		Types:         []string{ProofType},
		Algorithms:    cfg.Algorithms,
		Require:       []string{jwt.ClaimID, jwt.ClaimIssuedAt},
		MaxAge:        cfg.MaxAge,
		Leeway:        leeway,
		Now:           cfg.Now,
		MaxBytes:      cfg.MaxBytes,
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("dpop: invalid verifier config: %s", strings.Join(problems, "; "))
	}
	return &Verifier{cfg: cfg, jwt: jv, keys: keys}, nil
}

// Algorithms returns the accepted proof algorithms, for the
// dpop_signing_alg_values_supported metadata (§5.1) and the algs
// parameter of a challenge (§7.1).
func (v *Verifier) Algorithms() []string { return slices.Clone(v.cfg.Algorithms) }

// Nonces returns the verifier's nonces, nil when they are off.
func (v *Verifier) Nonces() *Nonces { return v.cfg.Nonces }

// Request describes the HTTP request a proof came with.
type Request struct {
	// Proofs are the values of every DPoP header of the request
	// (http.Header.Values), so that more than one is refused.
	Proofs []string
	// Method is the request's method, compared with htm exactly.
	Method string
	// URI is the request's target URI as the client addressed it: the
	// public URL, not the listener's address behind a proxy. Its query and
	// fragment are ignored.
	URI string
	// AccessToken, when the proof comes with one, must hash to ath.
	AccessToken string
	// JKT, when the request presents something bound to a key (an access
	// token's cnf.jkt, a code's dpop_jkt, a bound refresh token), is that
	// key's thumbprint: the proof must be signed with it.
	JKT string
	// NoNonce skips the nonce check for this request.
	NoNonce bool
}

// Proof is a verified proof.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of the proof's key: the cnf.jkt of a
	// token bound to it.
	JKT string
	// ID is the proof's jti.
	ID string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
	// Algorithm is the proof's alg.
	Algorithm string
}

// claims are the proof claims package jwt does not read.
type claims struct {
	HTM   string  `json:"htm"`
	HTU   string  `json:"htu"`
	ATH   *string `json:"ath"`
	Nonce *string `json:"nonce"`
}

// Verify checks the proof of r as RFC 9449 §4.3 lists, in that order, and
// records its jti last, so a refused proof is never recorded. Errors match
// [ErrInvalidProof] (with a precise sentinel) or [ErrUseNonce], except
// those of the Replay, which are passed on wrapped.
func (v *Verifier) Verify(ctx context.Context, r Request) (*Proof, error) {
	switch len(r.Proofs) {
	case 0:
		return nil, ErrMissing
	case 1:
	default:
		return nil, ErrMultiple
	}
	tok, err := v.jwt.Verify(ctx, r.Proofs[0])
	switch {
	case errors.Is(err, jwt.ErrExpired) || errors.Is(err, jwt.ErrNotYetValid):
		return nil, refuse(ErrTime, "%v", err)
	case err != nil:
		return nil, refuse(ErrMalformed, "%v", err)
	}
	var c claims
	if err := tok.Decode(&c); err != nil {
		return nil, refuse(ErrMalformed, "%v", err)
	}
	switch {
	case c.HTM == "" || c.HTU == "":
		return nil, refuse(ErrMalformed, "htm and htu are required")
	case len(tok.Claims.ID) > maxJTI:
		return nil, refuse(ErrMalformed, "jti of %d bytes", len(tok.Claims.ID))
	case c.HTM != r.Method:
		return nil, refuse(ErrMethod, "htm %.16q for %s", c.HTM, r.Method)
	}
	if !SameURI(c.HTU, r.URI) {
		return nil, refuse(ErrURI, "htu %.200q for %.200q", c.HTU, r.URI)
	}
	if r.AccessToken != "" && (c.ATH == nil || *c.ATH != TokenHash(r.AccessToken)) {
		return nil, refuse(ErrTokenHash, "ath")
	}
	jkt, err := v.keys.thumbprint(tok.Header.JWK, tok.Key)
	if err != nil {
		return nil, refuse(ErrMalformed, "%v", err)
	}
	if r.JKT != "" && jkt != r.JKT {
		return nil, refuse(ErrKeyMismatch, "proof key %s, bound key %s", jkt, r.JKT)
	}
	if v.cfg.Nonces != nil && !r.NoNonce && (c.Nonce == nil || !v.cfg.Nonces.Valid(*c.Nonce)) {
		return nil, ErrUseNonce
	}
	// A proof is acceptable while its iat is within MaxAge (plus leeway) of
	// now, so it must be remembered that long.
	iat := tok.Claims.IssuedAt.Time()
	exp := iat.Add(v.cfg.MaxAge + v.cfg.Leeway + time.Second)
	if err := v.cfg.Replay.Use(ctx, jkt+" "+tok.Claims.ID, exp); err != nil {
		if errors.Is(err, ErrReplayed) {
			return nil, refuse(ErrReplayed, "jti %.64q", tok.Claims.ID)
		}
		return nil, fmt.Errorf("dpop: replay check: %w", err)
	}
	return &Proof{JKT: jkt, ID: tok.Claims.ID, IssuedAt: iat, Algorithm: tok.Header.Algorithm}, nil
}

// SameURI reports whether two URIs are the same request target after
// [NormalizeURI]; either failing to normalize means no.
func SameURI(a, b string) bool {
	if a == b && a != "" {
		_, err := NormalizeURI(a)
		return err == nil
	}
	na, err := NormalizeURI(a)
	if err != nil {
		return false
	}
	nb, err := NormalizeURI(b)
	return err == nil && na == nb
}
