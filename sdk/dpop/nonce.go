package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// DefaultNonceLifetime is how long a nonce is accepted when NewNonces is
// given no lifetime.
const DefaultNonceLifetime = 5 * time.Minute

// Nonces issues and checks server-provided nonces (RFC 9449 §8, §9). A
// nonce names a time step and carries an HMAC of it, so checking one needs
// no state: every replica or instance configured with the same secret
// accepts the nonces of the others. All clients receive the same nonce
// during a step; a nonce is accepted for one to two lifetimes' halves
// after it was first handed out, and the server hands out the next one as
// soon as its step begins, in the DPoP-Nonce header of every response.
type Nonces struct {
	key  []byte
	step time.Duration
	now  func() time.Time
}

// NewNonces returns nonces keyed by secret (at least 32 bytes; nil draws a
// random one, which only this process will know) that stay valid for
// lifetime (zero means DefaultNonceLifetime, at least 2 s).
func NewNonces(secret []byte, lifetime time.Duration, now func() time.Time) (*Nonces, error) {
	if secret == nil {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("dpop: nonce secret: %w", err)
		}
	}
	if len(secret) < 32 {
		return nil, errors.New("dpop: a nonce secret needs at least 32 bytes")
	}
	if lifetime == 0 {
		lifetime = DefaultNonceLifetime
	}
	if lifetime < 2*time.Second {
		return nil, errors.New("dpop: nonce lifetime must be at least 2s")
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{key: append([]byte(nil), secret...), step: lifetime / 2, now: now}, nil
}

// Current returns the nonce to hand out now.
func (n *Nonces) Current() string { return n.encode(n.index(n.now())) }

// Valid reports whether nonce was issued by these nonces and is still
// accepted: from the current step or the one before (or the next one, for
// a replica whose clock runs a little ahead).
func (n *Nonces) Valid(nonce string) bool {
	if b64.DecodedLen(len(nonce)) != 24 {
		return false
	}
	var b [24]byte
	if k, err := b64.Decode(b[:], []byte(nonce)); err != nil || k != 24 {
		return false
	}
	i := binary.BigEndian.Uint64(b[:8])
	cur := n.index(n.now())
	if i+1 < cur || i > cur+1 {
		return false
	}
	return hmac.Equal(b[8:], n.mac(i))
}

func (n *Nonces) index(t time.Time) uint64 { return uint64(t.UnixNano() / int64(n.step)) }

func (n *Nonces) encode(i uint64) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], i)
	copy(b[8:], n.mac(i))
	return b64.EncodeToString(b[:])
}

func (n *Nonces) mac(i uint64) []byte {
	h := hmac.New(sha256.New, n.key)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	h.Write([]byte("dpop-nonce\x00"))
	h.Write(b[:])
	return h.Sum(nil)[:16]
}
