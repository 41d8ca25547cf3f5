package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/permiso-auth/permiso/internal/account"
)

// SecretPrefix marks Permiso client secrets so secret scanners can find
// leaked ones.
const SecretPrefix = "pms_"

// Secrets hashes and checks client secrets. Server-generated secrets have
// 256 bits of entropy, so a keyed SHA-256 (HMAC with the server pepper) is
// as safe as a slow hash and costs a microsecond. Secrets imported through
// the API are hashed with Argon2id instead, and successful checks of those
// are cached briefly so the token endpoint does not pay Argon2 each time.
type Secrets struct {
	pepper []byte
	now    func() time.Time

	mu    sync.Mutex
	cache map[[32]byte]time.Time // HMAC of (stored hash, secret) -> valid until
}

// NewSecrets returns a Secrets keyed by pepper (32 bytes, derived from the
// master key).
func NewSecrets(pepper []byte, now func() time.Time) *Secrets {
	if now == nil {
		now = time.Now
	}
	return &Secrets{pepper: pepper, now: now, cache: make(map[[32]byte]time.Time)}
}

// Generate returns a new secret and the hash to store.
func (s *Secrets) Generate() (secret string, hash []byte) {
	var b [32]byte
	rand.Read(b[:])
	secret = SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return secret, s.hmac(secret)
}

// Import hashes a caller-chosen secret with Argon2id.
func (s *Secrets) Import(secret string) ([]byte, error) {
	h, err := account.HashPassword(secret, account.DefaultParams)
	return []byte(h), err
}

func (s *Secrets) hmac(secret string) []byte {
	m := hmac.New(sha256.New, s.pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// MatchGenerated reports whether secret is the server-generated secret of
// the stored hash: an imported (Argon2id) hash never matches, and no
// Argon2id work is done. It is the only check made past the failed
// authentication budget.
func (s *Secrets) MatchGenerated(secret string, stored []byte) bool {
	return !account.IsPHC(string(stored)) && hmac.Equal(s.hmac(secret), stored)
}

// Match reports whether secret matches the stored hash, in constant time
// for server-generated secrets.
func (s *Secrets) Match(secret string, stored []byte) bool {
	if !account.IsPHC(string(stored)) {
		return hmac.Equal(s.hmac(secret), stored)
	}
	m := hmac.New(sha256.New, s.pepper)
	m.Write(stored)
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var key [32]byte
	copy(key[:], m.Sum(nil))
	now := s.now()
	s.mu.Lock()
	until, ok := s.cache[key]
	s.mu.Unlock()
	if ok && now.Before(until) {
		return true
	}
	if !account.VerifyPassword(secret, string(stored)) {
		return false
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		clear(s.cache)
	}
	s.cache[key] = now.Add(5 * time.Minute)
	s.mu.Unlock()
	return true
}
