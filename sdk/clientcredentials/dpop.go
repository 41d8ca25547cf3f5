package clientcredentials

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// maxNonceOrigins bounds the servers whose DPoP nonce a Source remembers.
const maxNonceOrigins = 1000

// nonceCache keeps the last DPoP-Nonce each server (origin) sent (RFC 9449
// §8.2, §9): a proof to that server carries it.
type nonceCache struct {
	mu sync.Mutex
	m  map[string]string
}

func (c *nonceCache) get(origin string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[origin]
}

// remember stores the nonce of h for origin and reports whether it changed.
func (c *nonceCache) remember(origin string, h http.Header) bool {
	n := h.Get(dpop.HeaderNonce)
	if n == "" || len(n) > 1024 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[origin] == n {
		return false
	}
	if c.m == nil || len(c.m) >= maxNonceOrigins {
		c.m = make(map[string]string)
	}
	c.m[origin] = n
	return true
}

// origin returns scheme://host of u, the scope of a server's nonce.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// DPoP returns the Source's DPoP signer, or nil when Config.DPoPKey is not
// set; its Thumbprint is the jkt the Source's tokens are bound to, and it
// makes proofs for transports this package does not cover (gRPC: htm POST,
// htu https://{authority}/{full method}, in "dpop" metadata).
func (s *Source) DPoP() *dpop.Signer { return s.proofs }

// proof returns a DPoP proof of the Source's key for method and u, with the
// server's last nonce and, for a resource request, the token's hash.
func (s *Source) proof(method string, u *url.URL, accessToken string) (string, error) {
	p, err := s.proofs.Proof(method, u.String(), dpop.ProofOptions{
		AccessToken: accessToken, Nonce: s.nonces.get(origin(u)), IssuedAt: s.now(),
	})
	if err != nil {
		return "", fmt.Errorf("clientcredentials: %w", err)
	}
	return p, nil
}

// authorize returns a clone of req (its own header map) carrying tok: as
// "Authorization: DPoP" with a fresh proof for a DPoP token, else as a
// bearer token.
func (s *Source) authorize(req *http.Request, tok *oauth2.Token) (*http.Request, error) {
	r := req.Clone(req.Context())
	if tok.TokenType != wire.TokenTypeDPoP {
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return r, nil
	}
	if s.proofs == nil {
		return nil, fmt.Errorf("clientcredentials: a DPoP token needs Config.DPoPKey")
	}
	p, err := s.proof(req.Method, req.URL, tok.AccessToken)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Authorization", dpop.Scheme+" "+tok.AccessToken)
	r.Header.Set(dpop.HeaderProof, p)
	return r, nil
}

// wantsNonce reports whether a resource server's 401 asks for a DPoP nonce
// (RFC 9449 §9), after remembering the nonce it sent; false when it sent
// none or the same one again, so a request is retried for a nonce once.
func (s *Source) wantsNonce(req *http.Request, resp *http.Response) bool {
	changed := s.proofs != nil && s.nonces.remember(origin(req.URL), resp.Header)
	return changed && resp.StatusCode == http.StatusUnauthorized && challengeError(resp.Header, dpop.Scheme) == wire.ErrUseDPoPNonce
}

// challengeError returns the error parameter of the WWW-Authenticate
// challenge of scheme, or "".
func challengeError(h http.Header, scheme string) string {
	for _, v := range h.Values("WWW-Authenticate") {
		sch, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		if !strings.EqualFold(sch, scheme) {
			continue
		}
		if code, ok := authParam(params, "error"); ok {
			return code
		}
	}
	return ""
}
