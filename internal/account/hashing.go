package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// hashPool bounds how many Argon2id computations run at once. Each one
// holds HashParams.Memory (64 MiB with the original's parameters), so an
// unbounded burst of logins would be a memory denial of service; a queue
// of waiting logins costs only goroutines.
type hashPool chan struct{}

func newHashPool(n int) hashPool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return make(hashPool, n)
}

func (p hashPool) acquire(ctx context.Context) error {
	select {
	case p <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p hashPool) release() { <-p }

// verify checks password against phc within the pool. A cancelled wait
// counts as no match.
func (s *Service) verify(ctx context.Context, password, phc string) bool {
	if err := s.hashes.acquire(ctx); err != nil {
		return false
	}
	defer s.hashes.release()
	return VerifyPassword(password, phc)
}

// hash hashes password within the pool.
func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.hashes.acquire(ctx); err != nil {
		return "", err
	}
	defer s.hashes.release()
	return HashPassword(password, s.cfg.HashParams)
}

// dummyHash returns a PHC string with the given parameters and random salt
// and key: checking any password against it costs what a real check costs
// and never matches, and making it costs nothing (no hashing at start-up).
func dummyHash(p HashParams) string {
	salt := make([]byte, p.SaltLen)
	key := make([]byte, p.KeyLen)
	rand.Read(salt)
	rand.Read(key)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}
