package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Reference is the minimal token endpoint the benchmark compares Permiso
// with: it parses the form, checks one client's secret in constant time,
// signs an ES256 JWT and writes the JSON token response, nothing more (no
// store, no scope policy, no audit). It answers POST /oauth2/token only,
// for client_credentials and, for the exchange scenario, the minimal token
// exchange: the same, plus one ES256 verification of the subject token (one
// of its own) and its exp; and, for the private-key-jwt scenario, a
// client_assertion instead of the secret: one ES256 verification with the
// client's one key, iss, sub, aud and exp, and its jti in a map. Its
// throughput on a machine is the ceiling a real server approaches.
type Reference struct {
	clientID string
	secret   []byte
	issuer   string
	scope    string
	lifetime time.Duration
	key      *ecdsa.PrivateKey
	header   string // base64url of the constant JOSE header
	now      func() time.Time
	mux      *http.ServeMux
	// private_key_jwt: the client's key and the jtis seen, by expiry.
	clientKey *ecdsa.PublicKey
	jtiMu     sync.Mutex
	jtis      map[string]int64
}

// ReferenceConfig configures a [Reference]. ClientID and Secret are
// required.
type ReferenceConfig struct {
	ClientID, Secret string
	// Issuer is the iss claim; empty means "http://reference.invalid".
	Issuer string
	// Scope is the granted scope; empty means "trade:read market:data".
	Scope string
	// Lifetime of the tokens; zero means one hour.
	Lifetime time.Duration
	// Key signs the tokens; nil generates a P-256 key.
	Key *ecdsa.PrivateKey
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClientKey verifies the client's private_key_jwt assertions (ES256);
	// nil refuses assertions.
	ClientKey *ecdsa.PublicKey
}

// NewReference returns the reference handler.
func NewReference(cfg ReferenceConfig) (*Reference, error) {
	if cfg.ClientID == "" || cfg.Secret == "" {
		return nil, errors.New("reference: client id and secret are required")
	}
	r := &Reference{clientID: cfg.ClientID, secret: []byte(cfg.Secret), issuer: cfg.Issuer,
		scope: cfg.Scope, lifetime: cfg.Lifetime, key: cfg.Key, now: cfg.Now, clientKey: cfg.ClientKey, jtis: map[string]int64{}}
	if r.issuer == "" {
		r.issuer = "http://reference.invalid"
	}
	if r.scope == "" {
		r.scope = "trade:read market:data"
	}
	if r.lifetime == 0 {
		r.lifetime = time.Hour
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("reference: generate key: %w", err)
		}
		r.key = k
	}
	hdr, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "at+jwt", "kid": "reference"})
	if err != nil {
		return nil, fmt.Errorf("reference: header: %w", err)
	}
	r.header = base64.RawURLEncoding.EncodeToString(hdr)
	r.mux = http.NewServeMux()
	r.mux.HandleFunc("POST /oauth2/token", r.token)
	return r, nil
}

// PublicKey returns the key that verifies the reference's tokens.
func (r *Reference) PublicKey() *ecdsa.PublicKey { return &r.key.PublicKey }

// ServeHTTP implements http.Handler.
func (r *Reference) ServeHTTP(w http.ResponseWriter, req *http.Request) { r.mux.ServeHTTP(w, req) }

type referenceClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf"`
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
}

type referenceResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

func (r *Reference) token(w http.ResponseWriter, req *http.Request) {
	req.Body = http.MaxBytesReader(w, req.Body, 64<<10)
	if err := req.ParseForm(); err != nil {
		referenceError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	grant := req.PostForm.Get("grant_type")
	if grant != "client_credentials" && grant != referenceExchange {
		referenceError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	id, secret, ok := req.BasicAuth()
	if !ok {
		id, secret = req.PostForm.Get("client_id"), req.PostForm.Get("client_secret")
	}
	var authOK bool
	if req.PostForm.Get("client_assertion_type") == referenceAssertionType {
		id, authOK = r.assertion(req.PostForm.Get("client_assertion"))
	} else {
		idOK := subtle.ConstantTimeCompare([]byte(id), []byte(r.clientID))
		secretOK := subtle.ConstantTimeCompare([]byte(secret), r.secret)
		authOK = idOK&secretOK == 1
	}
	if !authOK {
		w.Header().Set("WWW-Authenticate", `Basic realm="reference"`)
		referenceError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	sub := id
	if grant == referenceExchange {
		if sub, ok = r.subject(req.PostForm.Get("subject_token")); !ok {
			referenceError(w, http.StatusBadRequest, "invalid_request")
			return
		}
	}
	tok, err := r.sign(sub)
	if err != nil {
		referenceError(w, http.StatusInternalServerError, "server_error")
		return
	}
	body, err := json.Marshal(referenceResponse{AccessToken: tok, TokenType: "Bearer",
		ExpiresIn: int64(r.lifetime / time.Second), Scope: r.scope})
	if err != nil {
		referenceError(w, http.StatusInternalServerError, "server_error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.Write(body)
}

// referenceExchange is the token-exchange grant (RFC 8693).
const referenceExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// subject verifies a subject token the reference signed (its signature and
// exp) and returns its sub. It is written by hand, not with sdk/jwt (the
// one verifier of everything Permiso accepts), because the reference is the
// baseline Permiso's own code is measured against, and it checks only the
// tokens it signed itself.
func (r *Reference) subject(tok string) (string, bool) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || !strings.HasPrefix(tok, r.header+".") {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		return "", false
	}
	digest := sha256.Sum256([]byte(tok[:i]))
	if !ecdsa.Verify(&r.key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(tok[len(r.header)+1 : i])
	var c referenceClaims
	if err != nil || json.Unmarshal(payload, &c) != nil || c.Exp <= r.now().Unix() || c.Sub == "" {
		return "", false
	}
	return c.Sub, true
}

// referenceAssertionType is RFC 7523's client assertion type.
const referenceAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// referenceMaxJTIs bounds the jti map; expired ones are swept when it is
// full, and a full map of live ones refuses.
const referenceMaxJTIs = 1 << 20

// assertion checks a private_key_jwt client assertion the minimal way: an
// ES256 signature by the client's one key, iss = sub = the client, aud the
// issuer, an exp within 5 minutes, and a jti not seen before. Written by
// hand for the reason subject is.
func (r *Reference) assertion(a string) (string, bool) {
	if r.clientKey == nil {
		return "", false
	}
	h, rest, ok := strings.Cut(a, ".")
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "ES256" {
		return "", false
	}
	sig, err := base64.RawURLEncoding.DecodeString(rest[i+1:])
	if err != nil || len(sig) != 64 {
		return "", false
	}
	digest := sha256.Sum256([]byte(a[:len(h)+1+i]))
	if !ecdsa.Verify(r.clientKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", false
	}
	payload, err := base64.RawURLEncoding.DecodeString(rest[:i])
	var c referenceClaims
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return "", false
	}
	now := r.now().Unix()
	if c.Iss != r.clientID || c.Sub != r.clientID || c.Aud != r.issuer || c.Exp <= now || c.Exp > now+300 || c.Jti == "" {
		return "", false
	}
	r.jtiMu.Lock()
	defer r.jtiMu.Unlock()
	if exp, seen := r.jtis[c.Jti]; seen && exp > now {
		return "", false
	}
	if len(r.jtis) >= referenceMaxJTIs {
		for j, exp := range r.jtis {
			if exp <= now {
				delete(r.jtis, j)
			}
		}
		if len(r.jtis) >= referenceMaxJTIs {
			return "", false
		}
	}
	r.jtis[c.Jti] = c.Exp
	return c.Iss, true
}

// sign mints the access token for clientID.
func (r *Reference) sign(clientID string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("jti: %w", err)
	}
	now := r.now().Unix()
	payload, err := json.Marshal(referenceClaims{Iss: r.issuer, Sub: clientID, Aud: r.issuer,
		Exp: now + int64(r.lifetime/time.Second), Iat: now, Nbf: now,
		Jti: base64.RawURLEncoding.EncodeToString(jti[:]), ClientID: clientID, Scope: r.scope})
	if err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	var sb strings.Builder
	sb.Grow(len(r.header) + 1 + base64.RawURLEncoding.EncodedLen(len(payload)) + 1 + 86)
	sb.WriteString(r.header)
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(payload))
	digest := sha256.Sum256([]byte(sb.String()))
	der, err := ecdsa.SignASN1(rand.Reader, r.key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	raw, err := derToJOSE(der, 32)
	if err != nil {
		return "", err
	}
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(raw))
	return sb.String(), nil
}

func referenceError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q}`, code)
}

// derToJOSE converts an ASN.1 DER ECDSA signature, SEQUENCE { INTEGER r,
// INTEGER s }, into the JWS form (RFC 7518 §3.4): r and s as big-endian
// integers of size bytes each, concatenated.
func derToJOSE(der []byte, size int) ([]byte, error) {
	seq, rest, ok := derElement(der, 0x30)
	if !ok || len(rest) != 0 {
		return nil, errors.New("signature: malformed DER sequence")
	}
	out := make([]byte, 2*size)
	for i := range 2 {
		var n []byte
		n, seq, ok = derElement(seq, 0x02)
		if !ok || len(n) == 0 || n[0]&0x80 != 0 {
			return nil, errors.New("signature: malformed DER integer")
		}
		for len(n) > 0 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size {
			return nil, errors.New("signature: integer too large")
		}
		copy(out[(i+1)*size-len(n):(i+1)*size], n)
	}
	if len(seq) != 0 {
		return nil, errors.New("signature: trailing data in DER sequence")
	}
	return out, nil
}

// derElement reads one DER element with the given tag from b and returns
// its contents and what follows. Lengths above 65535 are refused.
func derElement(b []byte, tag byte) (content, rest []byte, ok bool) {
	if len(b) < 2 || b[0] != tag {
		return nil, nil, false
	}
	n, off := int(b[1]), 2
	if n&0x80 != 0 {
		k := n & 0x7f
		if k == 0 || k > 2 || len(b) < 2+k {
			return nil, nil, false
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		off = 2 + k
	}
	if len(b)-off < n {
		return nil, nil, false
	}
	return b[off : off+n], b[off+n:], true
}
