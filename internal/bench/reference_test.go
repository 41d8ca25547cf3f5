package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

func newTestReference(t testing.TB) *Reference {
	t.Helper()
	now := time.Unix(1_700_000_000, 0)
	r, err := NewReference(ReferenceConfig{ClientID: "svc", Secret: "pms_s3cret", Issuer: "http://issuer.test",
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tokenRequest(form url.Values, user, pass string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return req
}

// verifyES256 verifies an access token with pub, as any resource server
// would, and returns its header and claims.
func verifyES256(t *testing.T, tok string, pub *ecdsa.PublicKey) (jwt.Header, map[string]any) {
	t.Helper()
	key, err := jwt.NewKey("reference", jwt.ES256, pub)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwt.NewSet(key)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, Types: []string{"at+jwt"}, Algorithms: []string{jwt.ES256},
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	verified, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	var claims map[string]any
	if err := verified.Decode(&claims); err != nil {
		t.Fatal(err)
	}
	return verified.Header, claims
}

func TestReferenceIssuesVerifiableJWT(t *testing.T) {
	ref := newTestReference(t)
	for name, req := range map[string]*http.Request{
		"basic": tokenRequest(url.Values{"grant_type": {"client_credentials"}}, "svc", "pms_s3cret"),
		"post": tokenRequest(url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"},
			"client_secret": {"pms_s3cret"}}, "", ""),
	} {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ref.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Content-Type") != "application/json" {
				t.Errorf("headers: %v", w.Header())
			}
			var resp referenceResponse
			if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
				t.Fatal(err)
			}
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 || resp.Scope != "trade:read market:data" {
				t.Errorf("response: %+v", resp)
			}
			hdr, claims := verifyES256(t, resp.AccessToken, ref.PublicKey())
			if hdr.Algorithm != "ES256" || hdr.Type != "at+jwt" {
				t.Errorf("header: %v", hdr)
			}
			if claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["iss"] != "http://issuer.test" ||
				claims["exp"] != float64(1_700_003_600) || claims["jti"] == "" {
				t.Errorf("claims: %v", claims)
			}
		})
	}
}

func TestReferenceRejects(t *testing.T) {
	ref := newTestReference(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"wrong secret", tokenRequest(cc, "svc", "pms_s3cre7"), 401, "invalid_client"},
		{"unknown client", tokenRequest(cc, "other", "pms_s3cret"), 401, "invalid_client"},
		{"no credentials", tokenRequest(cc, "", ""), 401, "invalid_client"},
		{"other grant", tokenRequest(url.Values{"grant_type": {"password"}}, "svc", "pms_s3cret"), 400, "unsupported_grant_type"},
		{"GET", httptest.NewRequest(http.MethodGet, "/oauth2/token", nil), 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ref.ServeHTTP(w, tc.req)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.code != "" && !strings.Contains(w.Body.String(), `"`+tc.code+`"`) {
				t.Errorf("body %s, want %s", w.Body, tc.code)
			}
		})
	}
}

func TestDERToJOSE(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	// Enough signatures that some r or s are shorter than 32 bytes (1 in
	// 128 each) or carry a leading zero byte in DER (1 in 2).
	for range 500 {
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := derToJOSE(der, 32)
		if err != nil {
			t.Fatalf("%x: %v", der, err)
		}
		r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			t.Fatalf("converted %x does not verify", der)
		}
	}
	for _, bad := range [][]byte{
		nil, {0x30}, {0x30, 0x03, 0x02, 0x01},
		{0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01},                  // not a SEQUENCE
		{0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01},                  // negative r
		{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},            // trailing data inside
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},            // trailing data outside
		append([]byte{0x30, 0x25, 0x02, 0x21, 0x01}, make([]byte, 36)...), // r too large
	} {
		if _, err := derToJOSE(bad, 32); err == nil {
			t.Errorf("%x: accepted", bad)
		}
	}
}

func BenchmarkReferenceHandler(b *testing.B) {
	ref := newTestReference(b)
	body := url.Values{"grant_type": {"client_credentials"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", "pms_s3cret")
		w := httptest.NewRecorder()
		ref.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

func TestReferenceExchange(t *testing.T) {
	ref := newTestReference(t)
	exchange := func(subject string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		ref.ServeHTTP(w, tokenRequest(url.Values{"grant_type": {referenceExchange}, "subject_token": {subject},
			"subject_token_type": {tokenTypeAccess}}, "svc", "pms_s3cret"))
		return w
	}
	w := httptest.NewRecorder()
	ref.ServeHTTP(w, tokenRequest(url.Values{"grant_type": {"client_credentials"}}, "svc", "pms_s3cret"))
	var subject referenceResponse
	if err := json.Unmarshal(w.Body.Bytes(), &subject); err != nil {
		t.Fatal(err)
	}
	w = exchange(subject.AccessToken)
	var out referenceResponse
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	if _, claims := verifyES256(t, out.AccessToken, ref.PublicKey()); claims["sub"] != "svc" {
		t.Fatalf("claims %v", claims)
	}
	other := newTestReference(t) // another key
	w = httptest.NewRecorder()
	other.ServeHTTP(w, tokenRequest(url.Values{"grant_type": {"client_credentials"}}, "svc", "pms_s3cret"))
	var foreign referenceResponse
	json.Unmarshal(w.Body.Bytes(), &foreign)
	parts := strings.Split(subject.AccessToken, ".")
	for name, tok := range map[string]string{
		"garbage":          "x.y.z",
		"another key's":    foreign.AccessToken,
		"tampered payload": parts[0] + "." + parts[1] + "A." + parts[2],
		"no signature":     parts[0] + "." + parts[1] + ".",
	} {
		if w := exchange(tok); w.Code != http.StatusBadRequest {
			t.Errorf("%s subject token: %d %s", name, w.Code, w.Body)
		}
	}
}

// TestReferencePrivateKeyJWT: the reference's minimal private_key_jwt
// issues a token for a fresh assertion and refuses what any server must.
func TestReferencePrivateKeyJWT(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ref, err := NewReference(ReferenceConfig{ClientID: "svc", Secret: "pms_s3cret", Issuer: "http://issuer.test",
		Now: func() time.Time { return now }, ClientKey: &clientKey.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(k *ecdsa.PrivateKey, mutate func(map[string]any)) string {
		s, err := jwt.NewSigner(k)
		if err != nil {
			t.Fatal(err)
		}
		c := map[string]any{"iss": "svc", "sub": "svc", "aud": "http://issuer.test", "jti": randomJTI(t),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()}
		if mutate != nil {
			mutate(c)
		}
		a, err := s.Compact(jwt.Header{Type: "client-authentication+jwt"}, c)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	post := func(a string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		ref.ServeHTTP(w, tokenRequest(url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {referenceAssertionType}, "client_assertion": {a}}, "", ""))
		return w
	}
	good := sign(clientKey, nil)
	if w := post(good); w.Code != 200 {
		t.Fatalf("fresh assertion: %d %s", w.Code, w.Body)
	} else {
		var body referenceResponse
		json.Unmarshal(w.Body.Bytes(), &body)
		if _, claims := verifyES256(t, body.AccessToken, ref.PublicKey()); claims["sub"] != "svc" {
			t.Fatalf("token claims %v", claims)
		}
	}
	for name, a := range map[string]string{
		"replayed":      good,
		"another key":   sign(other, nil),
		"expired":       sign(clientKey, func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }),
		"exp too far":   sign(clientKey, func(c map[string]any) { c["exp"] = now.Add(time.Hour).Unix() }),
		"wrong aud":     sign(clientKey, func(c map[string]any) { c["aud"] = "http://elsewhere.test" }),
		"another sub":   sign(clientKey, func(c map[string]any) { c["sub"] = "other" }),
		"no jti":        sign(clientKey, func(c map[string]any) { delete(c, "jti") }),
		"not a JWT":     "x.y",
		"bad signature": good[:len(good)-4] + "AAAA",
	} {
		if w := post(a); w.Code != 401 {
			t.Errorf("%s: %d %s, want 401", name, w.Code, w.Body)
		}
	}
	// Without a client key, assertions are refused.
	w := httptest.NewRecorder()
	newTestReference(t).ServeHTTP(w, tokenRequest(url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {referenceAssertionType}, "client_assertion": {sign(clientKey, nil)}}, "", ""))
	if w.Code != 401 {
		t.Fatalf("no client key: %d", w.Code)
	}
}

func randomJTI(t *testing.T) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
