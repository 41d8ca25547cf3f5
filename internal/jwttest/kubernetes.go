package jwttest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// KubernetesIssuer mints service account tokens exactly as a Kubernetes
// API server does (RS256, kid from the key's DER, the kubernetes.io
// claims of a projected token) and serves its OpenID discovery document
// and JWKS on loopback, as the API server's service account issuer
// discovery does.
type KubernetesIssuer struct {
	URL string
	Key *Key
	srv *httptest.Server
}

// NewKubernetesIssuer starts an issuer on a loopback port.
func NewKubernetesIssuer(t testing.TB) *KubernetesIssuer {
	t.Helper()
	k := NewKey(t, "RS256", "")
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	k.KID = base64.RawURLEncoding.EncodeToString(sum[:])
	ki := &KubernetesIssuer{Key: k}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": ki.URL, "jwks_uri": ki.URL + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(JWKS(k))
	})
	ki.srv = httptest.NewServer(mux)
	ki.URL = ki.srv.URL
	t.Cleanup(ki.srv.Close)
	return ki
}

// ServiceAccountToken is what the kubelet projects into a pod for a
// serviceAccountToken volume source with this audience and lifetime.
func (ki *KubernetesIssuer) ServiceAccountToken(t testing.TB, namespace, account string, audience []string, ttl time.Duration, now time.Time) string {
	t.Helper()
	iat := now.Unix()
	claims := map[string]any{
		"aud": audience,
		"exp": iat + int64(ttl/time.Second),
		"iat": iat,
		"nbf": iat,
		"iss": ki.URL,
		"jti": uuid(),
		"sub": "system:serviceaccount:" + namespace + ":" + account,
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"node":           map[string]any{"name": "node-1", "uid": uuid()},
			"pod":            map[string]any{"name": account + "-7d9f8c6b5-x2k4p", "uid": uuid()},
			"serviceaccount": map[string]any{"name": account, "uid": uuid()},
			"warnafter":      iat + int64(ttl/time.Second)*8/10,
		},
	}
	return ki.Key.Sign(t, claims, nil)
}

func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
