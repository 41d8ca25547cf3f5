package testissuer

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (i *Issuer) metadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, wire.Metadata{
		Issuer:                            i.URL,
		TokenEndpoint:                     i.URL + "/token",
		JWKSURI:                           i.URL + "/jwks",
		IntrospectionEndpoint:             i.URL + "/introspect",
		RevocationListEndpoint:            i.URL + "/revocations",
		GrantTypesSupported:               []string{wire.GrantClientCredentials},
		TokenEndpointAuthMethodsSupported: []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	i.JWKSRequests.Add(1)
	i.mu.Lock()
	age := i.maxAge
	i.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(age))
	writeJSON(w, http.StatusOK, i.PublicJWKS())
}

// authenticate returns the client of a client_secret_basic or _post request.
func (i *Issuer) authenticate(r *http.Request) (string, Client, bool) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	i.mu.Lock()
	c, found := i.clients[id]
	i.mu.Unlock()
	return id, c, found && !c.Disabled && c.Secret == secret
}

func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	i.TokenRequests.Add(1)
	id, c, ok := i.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		writeJSON(w, http.StatusUnauthorized, wire.Error{Code: wire.ErrInvalidClient, Description: "Client authentication failed"})
		return
	}
	if r.PostFormValue("grant_type") == wire.GrantTokenExchange {
		i.exchange(w, r, id, c)
		return
	}
	cnf, ok := i.checkDPoP(w, r)
	if !ok {
		return
	}
	scopes := strings.Fields(r.PostFormValue("scope"))
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.ErrInvalidScope, Description: "Scope not allowed: " + s})
			return
		}
	}
	aud := r.PostFormValue("resource")
	if aud == "" && len(c.Audiences) > 0 {
		aud = c.Audiences[0]
	}
	if !slices.Contains(c.Audiences, aud) {
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.ErrInvalidTarget, Description: "Audience not allowed"})
		return
	}
	life := c.Lifetime
	if life == 0 {
		life = time.Hour
	}
	claims := i.Claims(id, aud, scopes...)
	claims.Expiry = claims.IssuedAt + int64(life/time.Second)
	claims.Scope = strings.Join(scopes, " ")
	trusted := c.Trusted
	claims.IsTrusted = &trusted
	claims.Cnf = cnf
	typ := wire.TokenTypeBearer
	if cnf != nil {
		typ = wire.TokenTypeDPoP
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, wire.TokenResponse{
		AccessToken: i.Mint(claims), TokenType: typ,
		ExpiresIn: int64(life / time.Second), Scope: claims.Scope,
	})
}

func (i *Issuer) introspect(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := i.authenticate(r); !ok {
		writeJSON(w, http.StatusUnauthorized, wire.Error{Code: wire.ErrInvalidClient})
		return
	}
	inactive := wire.IntrospectionResponse{}
	tok, err := i.verifier().Verify(r.Context(), r.PostFormValue("token"))
	var c wire.Claims
	if err != nil || tok.Decode(&c) != nil || i.isRevoked(c.ID) {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	typ := wire.TokenTypeBearer
	if c.Cnf != nil && c.Cnf.JKT != "" {
		typ = wire.TokenTypeDPoP
	}
	writeJSON(w, http.StatusOK, wire.IntrospectionResponse{
		Active: true, Scope: strings.Join(c.Scopes, " "), ClientID: c.ClientID, TokenType: typ,
		Exp: c.Expiry, Iat: c.IssuedAt, Sub: c.Subject, Aud: c.Audience, Iss: c.Issuer, Jti: c.ID,
		Scopes: c.Scopes, Type: c.Type, IsTrusted: c.IsTrusted, Cnf: c.Cnf,
	})
}

// verifier checks the issuer's tokens against its current keys, as its
// introspection endpoint does: signature and expiry.
func (i *Issuer) verifier() *jwt.Verifier {
	b, err := json.Marshal(i.PublicJWKS())
	if err != nil {
		panic(err)
	}
	keys, err := jwt.ParseJWKS(b)
	if err != nil {
		panic(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: keys, AnyType: true, Algorithms: []string{jwt.ES256, jwt.EdDSA},
		Require: []string{jwt.ClaimExpiry}, Leeway: -1, Now: i.now})
	if err != nil {
		panic(err)
	}
	return v
}

func (i *Issuer) isRevoked(jti string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return slices.ContainsFunc(i.revoked, func(e wire.RevocationEntry) bool { return e.Kind == wire.RevokeJTI && e.Value == jti })
}

// revocations serves the feed of docs/revocation-feed.md: the cursor is
// the number of entries, a snapshot is paged by feedPage.
func (i *Issuer) revocations(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	all, page, auth := slices.Clone(i.revoked), i.feedPage, i.feedAuth
	i.mu.Unlock()
	if auth {
		if _, _, ok := i.authenticate(r); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			writeJSON(w, http.StatusUnauthorized, wire.Error{Code: wire.ErrInvalidClient})
			return
		}
	}
	q := r.URL.Query()
	n := len(all)
	num := func(name string) int {
		v, err := strconv.Atoi(q.Get(name))
		if err != nil || v < 0 {
			return -1
		}
		return v
	}
	if page <= 0 {
		page = n + 1
	}
	if snap, after := num("snapshot"), num("after"); snap >= 0 && after >= 0 && after <= snap && snap <= n {
		writeJSON(w, http.StatusOK, snapshotPage(i.URL, all, snap, after, page))
		return
	}
	if since := num("since"); since > 0 && since <= n {
		writeJSON(w, http.StatusOK, wire.RevocationFeed{Type: wire.FeedDelta, Cursor: strconv.Itoa(n), Entries: nonNil(all[since:])})
		return
	}
	writeJSON(w, http.StatusOK, snapshotPage(i.URL, all, n, 0, page))
}

func snapshotPage(base string, all []wire.RevocationEntry, snap, after, page int) wire.RevocationFeed {
	end := min(snap, after+page)
	f := wire.RevocationFeed{Type: wire.FeedSnapshot, Cursor: strconv.Itoa(snap), Entries: nonNil(all[after:end])}
	if end < snap {
		f.Next = base + "/revocations?snapshot=" + strconv.Itoa(snap) + "&after=" + strconv.Itoa(end)
	}
	return f
}

func nonNil(e []wire.RevocationEntry) []wire.RevocationEntry {
	if e == nil {
		return []wire.RevocationEntry{}
	}
	return e
}

// checkDPoP checks the DPoP proof of a token request, if any (RFC 9449 §5),
// and returns the confirmation to bind the token to. It answers the
// request itself when the proof is refused.
func (i *Issuer) checkDPoP(w http.ResponseWriter, r *http.Request) (*wire.Confirmation, bool) {
	if len(r.Header.Values(dpop.HeaderProof)) == 0 {
		return nil, true
	}
	p, err := i.dpopVerifier().Verify(r.Context(), dpop.Request{Proofs: r.Header.Values(dpop.HeaderProof),
		Method: r.Method, URI: i.URL + "/token"})
	switch {
	case errors.Is(err, dpop.ErrUseNonce):
		i.mu.Lock()
		n := i.nonces
		i.mu.Unlock()
		w.Header().Set(dpop.HeaderNonce, n.Current())
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.ErrUseDPoPNonce, Description: "Use the DPoP-Nonce"})
		return nil, false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, wire.Error{Code: wire.ErrInvalidDPoPProof, Description: err.Error()})
		return nil, false
	}
	return &wire.Confirmation{JKT: p.JKT}, true
}
