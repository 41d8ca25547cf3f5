package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// maxChains bounds the chains a ChainVerifier remembers.
const maxChains = 10000

// ChainVerifier verifies client certificate chains against fixed roots and
// remembers the chains that verified: a service presents the same
// certificate on every token request, and building its chain (a signature
// check per link) costs more than the rest of the request. A remembered
// chain holds while now is within the validity of every certificate of the
// chain that was built. It is safe for concurrent use.
type ChainVerifier struct {
	roots *x509.CertPool

	mu sync.Mutex
	ok map[[32]byte]validity
}

type validity struct{ from, until time.Time }

// NewChainVerifier returns a ChainVerifier for roots (nil refuses all).
func NewChainVerifier(roots *x509.CertPool) *ChainVerifier {
	return &ChainVerifier{roots: roots, ok: map[[32]byte]validity{}}
}

// Verify is [Verify] with memory.
func (v *ChainVerifier) Verify(chain []*x509.Certificate, now time.Time) error {
	if len(chain) == 0 || v.roots == nil {
		return Verify(chain, v.roots, now)
	}
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	var key [32]byte
	h.Sum(key[:0])
	v.mu.Lock()
	w, ok := v.ok[key]
	v.mu.Unlock()
	if ok && !now.Before(w.from) && now.Before(w.until) {
		return nil
	}
	built, err := verifyChains(chain, v.roots, now)
	if err != nil {
		return err
	}
	w = validity{from: chain[0].NotBefore, until: chain[0].NotAfter}
	for _, c := range built {
		if c.NotBefore.After(w.from) {
			w.from = c.NotBefore
		}
		if c.NotAfter.Before(w.until) {
			w.until = c.NotAfter
		}
	}
	v.mu.Lock()
	if len(v.ok) >= maxChains {
		clear(v.ok)
	}
	v.ok[key] = w
	v.mu.Unlock()
	return nil
}
