package jwt_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// jwkJSON returns the JWK of key (public or private) with extra members.
func jwkJSON(t testing.TB, key any, extra map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range extra {
		m[k] = v
	}
	b, _ = json.Marshal(m)
	return b
}

func TestKeyFromHeader(t *testing.T) {
	v, err := jwt.NewVerifier(jwt.Config{KeyFromHeader: true, Types: []string{"dpop+jwt"},
		Require: []string{jwt.ClaimID, jwt.ClaimIssuedAt}, MaxAge: 5 * time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	es := testKey(t, "ES256", "a")
	ed := testKey(t, "EdDSA", "a")
	other := testKey(t, "ES256", "b")
	proof := map[string]any{"jti": "p1", "htm": "POST", "htu": "https://as.example/token", "iat": now.Unix()}
	hdr := func(alg string, jwk json.RawMessage) map[string]any {
		return map[string]any{"alg": alg, "typ": "dpop+jwt", "jwk": jwk}
	}

	tok, err := v.Verify(context.Background(), sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es.Public(), nil)), proof))
	if err != nil {
		t.Fatalf("valid proof: %v", err)
	}
	want, _ := (&jose.JSONWebKey{Key: es.Public()}).Thumbprint(crypto.SHA256)
	got, err := tok.Key.Thumbprint()
	if err != nil || got != enc.EncodeToString(want) {
		t.Fatalf("Thumbprint = %q, %v", got, err)
	}
	if _, err := v.Verify(context.Background(), sign(t, ed, "EdDSA", hdr("EdDSA", jwkJSON(t, ed.Public(), nil)), proof)); err != nil {
		t.Fatalf("EdDSA proof: %v", err)
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"no jwk", sign(t, es, "ES256", map[string]any{"alg": "ES256", "typ": "dpop+jwt"}, proof), jwt.ErrUnknownKey},
		{"private jwk", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es, nil)), proof), jwt.ErrUnknownKey},
		{"symmetric jwk", sign(t, es, "ES256", hdr("ES256", json.RawMessage(`{"kty":"oct","k":"c2VjcmV0"}`)), proof), jwt.ErrUnknownKey},
		{"jwk of another key", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, other.Public(), nil)), proof), jwt.ErrSignature},
		{"jwk bound to another alg", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es.Public(), map[string]any{"alg": "ES384"})), proof), jwt.ErrUnknownKey},
		{"jwk for encryption", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es.Public(), map[string]any{"use": "enc"})), proof), jwt.ErrUnknownKey},
		{"no jti", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es.Public(), nil)), with(proof, "jti", nil)), jwt.ErrClaims},
		{"stale", sign(t, es, "ES256", hdr("ES256", jwkJSON(t, es.Public(), nil)), with(proof, "iat", now.Add(-time.Hour).Unix())), jwt.ErrExpired},
		{"access token typ", sign(t, es, "ES256", map[string]any{"alg": "ES256", "typ": "at+jwt", "jwk": jwkJSON(t, es.Public(), nil)}, proof), jwt.ErrType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tt.token); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

// TestHeaderKey: a caller's jwk parser (a cache) replaces ParseJWK, and
// what it refuses is refused.
func TestHeaderKey(t *testing.T) {
	var calls int
	v, err := jwt.NewVerifier(jwt.Config{KeyFromHeader: true, Types: []string{"dpop+jwt"}, Now: clock,
		HeaderKey: func(raw []byte) (*jwt.Key, error) {
			calls++
			if strings.Contains(string(raw), `"refuse"`) {
				return nil, errors.New("refused")
			}
			return jwt.ParseJWK(raw)
		}})
	if err != nil {
		t.Fatal(err)
	}
	es := testKey(t, "ES256", "a")
	proof := map[string]any{"jti": "p1", "iat": now.Unix()}
	hdr := func(jwk json.RawMessage) map[string]any {
		return map[string]any{"alg": "ES256", "typ": "dpop+jwt", "jwk": jwk}
	}
	if _, err := v.Verify(context.Background(), sign(t, es, "ES256", hdr(jwkJSON(t, es.Public(), nil)), proof)); err != nil || calls != 1 {
		t.Fatalf("Verify = %v after %d calls", err, calls)
	}
	_, err = v.Verify(context.Background(), sign(t, es, "ES256", hdr(jwkJSON(t, es.Public(), map[string]any{"kid": "refuse"})), proof))
	if !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("refused key: %v", err)
	}
	set, _ := jwt.NewSet()
	if _, err := jwt.NewVerifier(jwt.Config{Keys: set, HeaderKey: jwt.ParseJWK, AnyType: true}); err == nil {
		t.Fatal("HeaderKey without KeyFromHeader accepted")
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// The example key of RFC 7638 §3.1 and its thumbprint.
	k, err := jwt.ParseJWK([]byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tp, err := k.Thumbprint(); err != nil || tp != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("Thumbprint = %q, %v", tp, err)
	}
}

func TestParseJWKS(t *testing.T) {
	es := testKey(t, "ES256", "a")
	ed := testKey(t, "EdDSA", "a")
	small := testKey(t, "RSA1024", "a")
	es2 := testKey(t, "ES256", "b")
	set := map[string]any{"keys": []json.RawMessage{
		jwkJSON(t, es.Public(), map[string]any{"kid": "es", "alg": "ES256", "use": "sig"}),
		jwkJSON(t, ed.Public(), map[string]any{"kid": "ed"}),
		jwkJSON(t, es2.Public(), map[string]any{"kid": "es"}), // duplicate kid: the first wins
		jwkJSON(t, es2.Public(), map[string]any{"kid": "enc", "use": "enc"}),
		jwkJSON(t, es2, map[string]any{"kid": "private"}),
		jwkJSON(t, small.Public(), map[string]any{"kid": "small"}),
		json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
		json.RawMessage(`{"kty":"EC","kid":"x448","crv":"P-256","x":"AAAA","y":"AAAA"}`),
		json.RawMessage(`{"kty":"OKP","kid":"x25519","crv":"X25519","x":"AAAA"}`),
		json.RawMessage(`{"kid":"no-kty"}`),
	}}
	b, _ := json.Marshal(set)
	s, err := jwt.ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range s.Keys() {
		ids = append(ids, k.ID)
	}
	if len(ids) != 2 || ids[0] != "es" || ids[1] != "ed" {
		t.Fatalf("kept %v, want [es ed]", ids)
	}
	k, err := s.Key(context.Background(), "es")
	if err != nil || k.Algorithm != "ES256" || !k.Public.(*ecdsa.PublicKey).Equal(es.Public()) {
		t.Fatalf("Key(es) = %+v, %v", k, err)
	}
	if _, err := s.Key(context.Background(), "private"); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("private key kept: %v", err)
	}
	if _, err := s.Key(context.Background(), ""); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("no kid among two keys: %v", err)
	}
	for name, doc := range map[string]string{
		"not JSON": `keys`, "no keys member": `{}`, "keys not a list": `{"keys":{}}`,
		"no usable key": `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`,
	} {
		if _, err := jwt.ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoneKeyWithoutKid(t *testing.T) {
	ed := testKey(t, "EdDSA", "a")
	b, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{jwkJSON(t, ed.Public(), nil)}})
	s, err := jwt.ParseJWKS(b)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{Keys: s, Types: []string{""}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), sign(t, ed, "EdDSA", map[string]string{"alg": "EdDSA"}, accessClaims())); err != nil {
		t.Fatalf("token without kid against a lone key: %v", err)
	}
	if _, err := v.Verify(context.Background(), sign(t, ed, "EdDSA", map[string]string{"alg": "EdDSA", "kid": "x"}, accessClaims())); !errors.Is(err, jwt.ErrUnknownKey) {
		t.Fatalf("token naming another kid: %v", err)
	}
}

func TestNewKey(t *testing.T) {
	es := testKey(t, "ES256", "a")
	rs := testKey(t, "RS256", "a")
	small := testKey(t, "RSA1024", "a")
	ed := testKey(t, "EdDSA", "a")
	for name, tc := range map[string]struct {
		alg string
		key any
		ok  bool
	}{
		"EC public":         {"ES256", es.Public(), true},
		"EC unbound":        {"", es.Public(), true},
		"EC for ES384":      {"ES384", es.Public(), false},
		"EC private":        {"ES256", es, false},
		"RSA for PS256":     {"PS256", rs.Public(), true},
		"small RSA":         {"", small.Public(), false},
		"Ed25519":           {"EdDSA", ed.Public().(ed25519.PublicKey), true},
		"Ed25519 for RS256": {"RS256", ed.Public(), false},
		"RSA private":       {"RS256", rs.(*rsa.PrivateKey), false},
		"HMAC secret":       {"HS256", []byte("secret"), false},
		"unsupported alg":   {"HS256", es.Public(), false},
	} {
		_, err := jwt.NewKey("k", tc.alg, tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestNumericDate(t *testing.T) {
	for in, want := range map[string]int64{`1800000000`: 1800000000, `1800000000.9`: 1800000000, `1.8e9`: 1800000000, `null`: 0, `0`: 0} {
		var d jwt.NumericDate
		if err := json.Unmarshal([]byte(in), &d); err != nil || int64(d) != want {
			t.Errorf("%s: %d, %v", in, d, err)
		}
	}
	for _, in := range []string{`"1800000000"`, `-1`, `true`, `1e300`, `{}`} {
		var d jwt.NumericDate
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("%s accepted as %d", in, d)
		}
	}
}
