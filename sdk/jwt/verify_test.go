package jwt_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/jwt"
)

// accessVerifier verifies RFC 9068 access tokens signed by the keys given.
func accessVerifier(t testing.TB, keys ...*jwt.Key) *jwt.Verifier {
	t.Helper()
	set, err := jwt.NewSet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jwt.NewVerifier(jwt.Config{
		Keys: set, Types: []string{"at+jwt"}, Issuer: "https://issuer.example",
		Audience: []string{"https://api.example"},
		Require:  []string{jwt.ClaimIssuer, jwt.ClaimSubject, jwt.ClaimExpiry, jwt.ClaimIssuedAt, jwt.ClaimID},
		Now:      clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pubKey(t testing.TB, id, alg string, priv crypto.Signer) *jwt.Key {
	t.Helper()
	k, err := jwt.NewKey(id, alg, priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range jwt.Algorithms() {
		t.Run(alg, func(t *testing.T) {
			priv := testKey(t, alg, "a")
			v := accessVerifier(t, pubKey(t, "k1", alg, priv))
			tok, err := v.Verify(context.Background(), sign(t, priv, alg, map[string]string{"alg": alg, "kid": "k1", "typ": "at+jwt"}, accessClaims()))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tok.Claims.Subject != "svc" || tok.Claims.ID != "j1" || tok.Key.ID != "k1" || tok.Header.Algorithm != alg {
				t.Fatalf("token %+v", tok)
			}
			var extra struct {
				Scope string `json:"scope"`
			}
			if err := tok.Decode(&extra); err != nil || extra.Scope != "a b" {
				t.Fatalf("Decode = %q, %v", extra.Scope, err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	es := testKey(t, "ES256", "a")
	other := testKey(t, "ES256", "b")
	rs := testKey(t, "RS256", "a")
	small := testKey(t, "RSA1024", "a")
	v := accessVerifier(t, pubKey(t, "es", "ES256", es), pubKey(t, "rs", "RS256", rs),
		&jwt.Key{ID: "small", Public: small.Public()}, &jwt.Key{ID: "unbound", Public: rs.Public()})
	hdr := func(alg, kid, typ string) map[string]string {
		return map[string]string{"alg": alg, "kid": kid, "typ": typ}
	}
	good := sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), accessClaims())
	parts := strings.Split(good, ".")
	der, err := x509.MarshalPKIXPublicKey(es.Public())
	if err != nil {
		t.Fatal(err)
	}
	hmacIn := enc.EncodeToString([]byte(`{"alg":"HS256","kid":"es","typ":"at+jwt"}`)) + "." + parts[1]
	mac := hmac.New(sha256.New, der)
	mac.Write([]byte(hmacIn))
	rawHeader := func(h string) string { return enc.EncodeToString([]byte(h)) + "." + parts[1] + "." + parts[2] }

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", jwt.ErrMalformed},
		{"oversized", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "pad", strings.Repeat("x", 9000))), jwt.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], jwt.ErrMalformed},
		{"four parts", good + ".x", jwt.ErrMalformed},
		{"JWE", "a.b.c.d.e", jwt.ErrMalformed},
		{"header not base64url", "%%%." + parts[1] + "." + parts[2], jwt.ErrMalformed},
		{"payload not base64url", parts[0] + ".%%%." + parts[2], jwt.ErrMalformed},
		{"signature not base64url", parts[0] + "." + parts[1] + ".%%%", jwt.ErrMalformed},
		{"header not JSON", rawHeader("alg"), jwt.ErrMalformed},
		{"header without alg", rawHeader(`{"kid":"es","typ":"at+jwt"}`), jwt.ErrMalformed},
		{"crit", rawHeader(`{"alg":"ES256","kid":"es","typ":"at+jwt","crit":["exp"],"exp":1}`), jwt.ErrMalformed},
		{"empty crit", rawHeader(`{"alg":"ES256","kid":"es","typ":"at+jwt","crit":[]}`), jwt.ErrMalformed},
		{"b64", rawHeader(`{"alg":"ES256","kid":"es","typ":"at+jwt","b64":false}`), jwt.ErrMalformed},
		{"enc", rawHeader(`{"alg":"ES256","kid":"es","typ":"at+jwt","enc":"A128GCM"}`), jwt.ErrMalformed},
		{"zip", rawHeader(`{"alg":"ES256","kid":"es","typ":"at+jwt","zip":"DEF"}`), jwt.ErrMalformed},
		{"unsecured", enc.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + ".", jwt.ErrAlgorithm},
		{"alg none with a signature", rawHeader(`{"alg":"none","kid":"es","typ":"at+jwt"}`), jwt.ErrAlgorithm},
		{"HMAC keyed with the public key", hmacIn + "." + enc.EncodeToString(mac.Sum(nil)), jwt.ErrAlgorithm},
		{"unknown alg", rawHeader(`{"alg":"ES999","kid":"es","typ":"at+jwt"}`), jwt.ErrAlgorithm},
		{"wrong typ", sign(t, es, "ES256", hdr("ES256", "es", "JWT"), accessClaims()), jwt.ErrType},
		{"DPoP typ", sign(t, es, "ES256", hdr("ES256", "es", "dpop+jwt"), accessClaims()), jwt.ErrType},
		{"no typ", sign(t, es, "ES256", map[string]string{"alg": "ES256", "kid": "es"}, accessClaims()), jwt.ErrType},
		{"unknown kid", sign(t, es, "ES256", hdr("ES256", "nope", "at+jwt"), accessClaims()), jwt.ErrUnknownKey},
		{"no kid among several keys", sign(t, es, "ES256", map[string]string{"alg": "ES256", "typ": "at+jwt"}, accessClaims()), jwt.ErrUnknownKey},
		{"EC key named for RS256", sign(t, es, "ES256", hdr("RS256", "es", "at+jwt"), accessClaims()), jwt.ErrKeyMismatch},
		{"P-256 key named for ES384", sign(t, es, "ES256", hdr("ES384", "es", "at+jwt"), accessClaims()), jwt.ErrKeyMismatch},
		{"key bound to RS256 used for PS256", sign(t, rs, "PS256", hdr("PS256", "rs", "at+jwt"), accessClaims()), jwt.ErrKeyMismatch},
		{"RSA key under 2048 bits", sign(t, small, "RS256", hdr("RS256", "small", "at+jwt"), accessClaims()), jwt.ErrKeyMismatch},
		{"signed by another key", sign(t, other, "ES256", hdr("ES256", "es", "at+jwt"), accessClaims()), jwt.ErrSignature},
		{"tampered payload", parts[0] + "." + enc.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2], jwt.ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:20], jwt.ErrSignature},
		{"payload not an object", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), []byte(`["x"]`)), jwt.ErrMalformed},
		{"payload null", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), []byte(`null`)), jwt.ErrMalformed},
		{"sub not a string", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "sub", 7)), jwt.ErrMalformed},
		{"exp a string", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "exp", "9999999999")), jwt.ErrMalformed},
		{"negative exp", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "exp", -1)), jwt.ErrMalformed},
		{"no sub", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "sub", nil)), jwt.ErrClaims},
		{"empty sub", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "sub", "")), jwt.ErrClaims},
		{"no jti", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "jti", nil)), jwt.ErrClaims},
		{"no exp", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "exp", nil)), jwt.ErrClaims},
		{"no iat", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "iat", nil)), jwt.ErrClaims},
		{"no iss", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "iss", nil)), jwt.ErrClaims},
		{"wrong iss", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "iss", "https://evil.example")), jwt.ErrClaims},
		{"wrong aud", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "aud", []string{"https://other.example"})), jwt.ErrClaims},
		{"no aud", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "aud", nil)), jwt.ErrClaims},
		{"expired", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "exp", now.Add(-30*time.Second).Unix())), jwt.ErrExpired},
		{"not yet valid", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "nbf", now.Add(31*time.Second).Unix())), jwt.ErrNotYetValid},
		{"issued in the future", sign(t, es, "ES256", hdr("ES256", "es", "at+jwt"), with(accessClaims(), "iat", now.Add(31*time.Second).Unix())), jwt.ErrNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := v.Verify(context.Background(), tt.token)
			if !errors.Is(err, tt.want) || !errors.Is(err, jwt.ErrInvalid) || tok != nil {
				t.Fatalf("Verify = %v, %v; want %v", tok, err, tt.want)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	es := testKey(t, "ES256", "a")
	rs := testKey(t, "RS256", "a")
	v := accessVerifier(t, pubKey(t, "es", "ES256", es), &jwt.Key{ID: "rs", Public: rs.Public()})
	hdr := func(typ string) map[string]string { return map[string]string{"alg": "ES256", "kid": "es", "typ": typ} }
	tests := []struct {
		name  string
		token string
	}{
		{"at+jwt", sign(t, es, "ES256", hdr("at+jwt"), accessClaims())},
		{"application/at+jwt", sign(t, es, "ES256", hdr("application/at+jwt"), accessClaims())},
		{"upper case typ", sign(t, es, "ES256", hdr("AT+JWT"), accessClaims())},
		{"aud among several", sign(t, es, "ES256", hdr("at+jwt"), with(accessClaims(), "aud", []string{"x", "https://api.example"}))},
		{"expiry within the leeway", sign(t, es, "ES256", hdr("at+jwt"), with(accessClaims(), "exp", now.Add(-29*time.Second).Unix()))},
		{"nbf within the leeway", sign(t, es, "ES256", hdr("at+jwt"), with(accessClaims(), "nbf", now.Add(30*time.Second).Unix()))},
		{"fractional dates", sign(t, es, "ES256", hdr("at+jwt"), with(accessClaims(), "exp", float64(now.Unix())+600.5))},
		{"key without alg verifies PS256", sign(t, rs, "PS256", map[string]string{"alg": "PS256", "kid": "rs", "typ": "at+jwt"}, accessClaims())},
		{"key without alg verifies RS256", sign(t, rs, "RS256", map[string]string{"alg": "RS256", "kid": "rs", "typ": "at+jwt"}, accessClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(context.Background(), tt.token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	es := testKey(t, "ES256", "a")
	set, _ := jwt.NewSet(pubKey(t, "", "ES256", es))
	tok := func(typ string) string {
		h := map[string]string{"alg": "ES256"}
		if typ != "-" {
			h["typ"] = typ
		}
		return sign(t, es, "ES256", h, map[string]any{"iss": "c", "sub": "c"})
	}
	tests := []struct {
		name    string
		cfg     jwt.Config
		accepts []string
		refuses []string
	}{
		{"absent or JWT", jwt.Config{Types: []string{"", "JWT"}}, []string{"-", "JWT", "jwt", "application/jwt"}, []string{"at+jwt", "dpop+jwt"}},
		{"any", jwt.Config{AnyType: true}, []string{"-", "JWT", "at+jwt", "whatever"}, nil},
		{"dpop", jwt.Config{Types: []string{"dpop+jwt"}}, []string{"dpop+jwt", "DPoP+JWT"}, []string{"-", "", "JWT", "at+jwt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Keys, cfg.Now = set, clock
			v, err := jwt.NewVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, typ := range tt.accepts {
				if _, err := v.Verify(context.Background(), tok(typ)); err != nil {
					t.Errorf("typ %q: %v", typ, err)
				}
			}
			for _, typ := range tt.refuses {
				if _, err := v.Verify(context.Background(), tok(typ)); !errors.Is(err, jwt.ErrType) {
					t.Errorf("typ %q: %v", typ, err)
				}
			}
		})
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	ed := testKey(t, "EdDSA", "a")
	set, _ := jwt.NewSet(pubKey(t, "ed", "", ed))
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, AnyType: true, Algorithms: []string{jwt.ES256}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), sign(t, ed, "EdDSA", map[string]string{"alg": "EdDSA", "kid": "ed"}, accessClaims()))
	if !errors.Is(err, jwt.ErrAlgorithm) {
		t.Fatalf("EdDSA outside the allow-list: %v", err)
	}
}

func TestMaxAge(t *testing.T) {
	es := testKey(t, "ES256", "a")
	set, _ := jwt.NewSet(pubKey(t, "", "ES256", es))
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, AnyType: true, MaxAge: time.Minute, Leeway: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	proof := func(c map[string]any) string { return sign(t, es, "ES256", map[string]string{"alg": "ES256"}, c) }
	for name, tc := range map[string]struct {
		claims map[string]any
		want   error
	}{
		"fresh":     {map[string]any{"iat": now.Add(-time.Minute).Unix()}, nil},
		"too old":   {map[string]any{"iat": now.Add(-time.Minute - time.Second).Unix()}, jwt.ErrExpired},
		"no iat":    {map[string]any{"jti": "x"}, jwt.ErrClaims},
		"in future": {map[string]any{"iat": now.Add(time.Second).Unix()}, jwt.ErrNotYetValid},
	} {
		_, err := v.Verify(context.Background(), proof(tc.claims))
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestLeewayAndClock(t *testing.T) {
	es := testKey(t, "ES256", "a")
	set, _ := jwt.NewSet(pubKey(t, "", "ES256", es))
	at := now
	v, err := jwt.NewVerifier(jwt.Config{Keys: set, AnyType: true, Leeway: -1, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, es, "ES256", map[string]string{"alg": "ES256"}, map[string]any{"exp": now.Add(time.Minute).Unix(), "nbf": now.Unix()})
	for _, step := range []struct {
		at   time.Time
		want error
	}{
		{now.Add(-time.Second), jwt.ErrNotYetValid},
		{now, nil},
		{now.Add(time.Minute - time.Second), nil},
		{now.Add(time.Minute), jwt.ErrExpired},
	} {
		at = step.at
		_, err := v.Verify(context.Background(), tok)
		if (step.want == nil && err != nil) || (step.want != nil && !errors.Is(err, step.want)) {
			t.Errorf("at %v: %v, want %v", step.at.Sub(now), err, step.want)
		}
	}
}

// downKeys is a KeySet that cannot reach its keys.
type downKeys struct{ err error }

func (d downKeys) Key(context.Context, string) (*jwt.Key, error) { return nil, d.err }

func TestKeySetErrorsPassThrough(t *testing.T) {
	down := errors.New("issuer unreachable")
	v, err := jwt.NewVerifier(jwt.Config{Keys: downKeys{down}, AnyType: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	es := testKey(t, "ES256", "a")
	_, err = v.Verify(context.Background(), sign(t, es, "ES256", map[string]string{"alg": "ES256", "kid": "k"}, accessClaims()))
	if !errors.Is(err, down) || errors.Is(err, jwt.ErrInvalid) {
		t.Fatalf("Verify = %v; want the key set's error, not ErrInvalid", err)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	set, _ := jwt.NewSet()
	for name, cfg := range map[string]jwt.Config{
		"no keys":             {Types: []string{"at+jwt"}},
		"keys and header key": {Keys: set, KeyFromHeader: true, Types: []string{"at+jwt"}},
		"no types":            {Keys: set},
		"types and any":       {Keys: set, Types: []string{"x"}, AnyType: true},
		"HMAC":                {Keys: set, AnyType: true, Algorithms: []string{"HS256"}},
		"none":                {Keys: set, AnyType: true, Algorithms: []string{"none"}},
		"unknown claim":       {Keys: set, AnyType: true, Require: []string{"scope"}},
		"leeway":              {Keys: set, AnyType: true, Leeway: time.Hour},
		"max age":             {Keys: set, AnyType: true, MaxAge: -time.Second},
	} {
		if _, err := jwt.NewVerifier(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseUnverified(t *testing.T) {
	es := testKey(t, "ES256", "a")
	raw := sign(t, es, "ES256", map[string]string{"alg": "ES256", "kid": "k"}, map[string]any{"iss": "client-1", "sub": "client-1"})
	tok, err := jwt.ParseUnverified(raw)
	if err != nil || tok.Claims.Issuer != "client-1" || tok.Header.KeyID != "k" || tok.Key != nil {
		t.Fatalf("ParseUnverified = %+v, %v", tok, err)
	}
	if _, err := jwt.ParseUnverified(raw + ".x"); !errors.Is(err, jwt.ErrMalformed) {
		t.Fatalf("four parts: %v", err)
	}
}
