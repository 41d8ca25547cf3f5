package testissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Key is a signing key of the issuer.
type Key struct {
	ID  string
	Alg string
	Key crypto.Signer
}

// Client is a registered client of the issuer.
type Client struct {
	Secret    string
	Scopes    []string
	Audiences []string
	Trusted   bool
	Disabled  bool
	Lifetime  time.Duration
}

// Issuer is an in-process authorization server on a loopback port.
type Issuer struct {
	URL string
	// JWKSRequests counts GET /jwks requests.
	JWKSRequests atomic.Int64
	// TokenRequests counts POST /token requests.
	TokenRequests atomic.Int64
	// Exchanges holds the form of every token exchange, guarded by mu
	// (read it with ExchangeForms).
	Exchanges []url.Values

	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	keys     []*Key
	signing  *Key
	maxAge   int
	revoked  []wire.RevocationEntry
	clients  map[string]Client
	proofs   *dpop.Verifier
	nonces   *dpop.Nonces // nil: no DPoP nonce required
	jtiCount int
	// feedPage, when positive, splits revocation snapshots into pages of
	// that many entries; feedAuth makes the feed require a client.
	feedPage int
	feedAuth bool
}

// New starts an issuer with one ES256 key, "k1". Close it when done.
func New() *Issuer {
	i := &Issuer{now: time.Now, maxAge: 300, clients: make(map[string]Client)}
	i.signing = i.AddKey("ES256")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", i.metadata)
	mux.HandleFunc("GET /jwks", i.jwks)
	mux.HandleFunc("POST /token", i.token)
	mux.HandleFunc("POST /introspect", i.introspect)
	mux.HandleFunc("GET /revocations", i.revocations)
	i.srv = httptest.NewServer(mux)
	i.URL = i.srv.URL
	return i
}

// ExchangeForms returns the forms of the token exchanges so far.
func (i *Issuer) ExchangeForms() []url.Values {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.Clone(i.Exchanges)
}

// Close shuts the issuer down.
func (i *Issuer) Close() { i.srv.Close() }

// AddKey generates and publishes a key for alg (ES256 or EdDSA) without
// signing with it, and returns it.
func (i *Issuer) AddKey(alg string) *Key {
	var k crypto.Signer
	var err error
	switch alg {
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("unsupported alg %s", alg)
	}
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	key := &Key{ID: "k" + strconv.Itoa(len(i.keys)+1), Alg: alg, Key: k}
	i.keys = append(i.keys, key)
	return key
}

// Rotate publishes a new key for alg and signs with it from now on.
func (i *Issuer) Rotate(alg string) *Key {
	k := i.AddKey(alg)
	i.mu.Lock()
	i.signing = k
	i.mu.Unlock()
	return k
}

// SigningKey returns the key tokens are signed with.
func (i *Issuer) SigningKey() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.signing
}

// KeyByID returns the key named kid, or nil.
func (i *Issuer) KeyByID(kid string) *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

// RequireDPoPNonce makes the token endpoint require its DPoP nonce (RFC
// 9449 §8) from now on.
func (i *Issuer) RequireDPoPNonce() {
	n, err := dpop.NewNonces(nil, 0, nil)
	if err != nil {
		panic(err)
	}
	i.mu.Lock()
	i.nonces = n
	i.proofs = nil
	i.mu.Unlock()
}

// dpopVerifier returns the verifier of DPoP proofs at the token endpoint.
func (i *Issuer) dpopVerifier() *dpop.Verifier {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.proofs == nil {
		v, err := dpop.NewVerifier(dpop.Config{Replay: dpop.NewMemoryReplay(0, nil), Nonces: i.nonces})
		if err != nil {
			panic(err)
		}
		i.proofs = v
	}
	return i.proofs
}

// SetMaxAge sets the JWKS Cache-Control max-age in seconds.
func (i *Issuer) SetMaxAge(s int) {
	i.mu.Lock()
	i.maxAge = s
	i.mu.Unlock()
}

// AddClient registers a client.
func (i *Issuer) AddClient(id string, c Client) {
	i.mu.Lock()
	i.clients[id] = c
	i.mu.Unlock()
}

// Revoke puts jti on the revocation list until exp.
func (i *Issuer) Revoke(jti string, exp int64) { i.RevokeEntry(wire.RevokeJTI, jti, exp) }

// RevokeEntry puts an entry of any kind on the revocation list.
func (i *Issuer) RevokeEntry(kind, value string, exp int64) {
	i.mu.Lock()
	i.revoked = append(i.revoked, wire.RevocationEntry{Kind: kind, Value: value, Exp: exp})
	i.mu.Unlock()
}

// SetFeed pages revocation snapshots by pageSize entries (0: one page) and
// makes the feed require client authentication when auth is set.
func (i *Issuer) SetFeed(pageSize int, auth bool) {
	i.mu.Lock()
	i.feedPage, i.feedAuth = pageSize, auth
	i.mu.Unlock()
}

// Claims returns valid claims for a service token of sub for aud with
// scopes, issued now and living for an hour.
func (i *Issuer) Claims(sub, aud string, scopes ...string) wire.Claims {
	now := i.now()
	i.mu.Lock()
	i.jtiCount++
	jti := "jti-" + strconv.Itoa(i.jtiCount)
	i.mu.Unlock()
	return wire.Claims{
		Issuer: i.URL, Subject: sub, Audience: wire.Audience{aud},
		Expiry: now.Add(time.Hour).Unix(), IssuedAt: now.Unix(), NotBefore: now.Unix(),
		ID: jti, ClientID: sub, Scopes: scopes, Type: wire.ClaimTypeService,
	}
}

// Mint signs claims with the signing key as an at+jwt access token.
func (i *Issuer) Mint(c wire.Claims) string {
	return i.MintWith(i.SigningKey(), wire.AccessTokenJWTType, c)
}

// MintWith signs payload (claims or any JSON value) with key and header typ.
func (i *Issuer) MintWith(key *Key, typ string, payload any) string {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader(jose.HeaderKey("kid"), key.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Alg), Key: key.Key}, opts)
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	jws, err := s.Sign(b)
	if err != nil {
		panic(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return out
}

// PublicJWKS returns the published key set.
func (i *Issuer) PublicJWKS() jose.JSONWebKeySet {
	i.mu.Lock()
	defer i.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key.Public(), KeyID: k.ID, Algorithm: k.Alg, Use: "sig"})
	}
	return set
}
