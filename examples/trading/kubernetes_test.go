package trading_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kubernetesIssuer mints service account tokens exactly as a Kubernetes
// API server does (RS256; kid the base64url SHA-256 of the key's DER; iss,
// sub system:serviceaccount:NS:NAME, aud, exp, iat, nbf, jti and the
// kubernetes.io claims of a projected token) and serves its service
// account issuer discovery (/.well-known/openid-configuration and
// /openid/v1/jwks) on loopback.
type kubernetesIssuer struct {
	url string
	key *rsa.PrivateKey
	kid string
}

func newKubernetesIssuer(t *testing.T) *kubernetesIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	k := &kubernetesIssuer{key: key, kid: base64.RawURLEncoding.EncodeToString(sum[:])}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": k.url, "jwks_uri": k.url + "/openid/v1/jwks",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		b64 := base64.RawURLEncoding.EncodeToString
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"use": "sig", "kty": "RSA", "kid": k.kid,
			"alg": "RS256", "n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	k.url = srv.URL
	return k
}

// projectedToken is what the kubelet writes into a pod for a
// serviceAccountToken projection with this audience and lifetime.
func (k *kubernetesIssuer) projectedToken(t *testing.T, namespace, account, audience string, ttl time.Duration) string {
	t.Helper()
	now := time.Now().Unix()
	uid := func() string {
		var b [16]byte
		rand.Read(b[:])
		h := hex.EncodeToString(b[:])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	claims := map[string]any{
		"aud": []string{audience}, "exp": now + int64(ttl/time.Second), "iat": now, "nbf": now, "iss": k.url, "jti": uid(),
		"sub": "system:serviceaccount:" + namespace + ":" + account,
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"node":           map[string]any{"name": "worker-1", "uid": uid()},
			"pod":            map[string]any{"name": account + "-5c7d9f8b6-qz2lp", "uid": uid()},
			"serviceaccount": map[string]any{"name": account, "uid": uid()},
			"warnafter":      now + int64(ttl/time.Second)*8/10,
		},
	}
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	input := enc(map[string]any{"alg": "RS256", "kid": k.kid}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestEndToEndKubernetes runs the bot as it runs in a pod: Permiso trusts
// the cluster (OIDC discovery of its service account issuer, on loopback
// here), setup binds trading-bot to its service account, and the bot
// presents the projected token file, re-read for every token. No Permiso
// credential exists on the bot's side.
func TestEndToEndKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and starts processes")
	}
	tmp := t.TempDir()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	permisoBin := os.Getenv("PERMISO_BIN")
	if permisoBin == "" {
		permisoBin = filepath.Join(tmp, "permiso")
		build(t, root, permisoBin, "github.com/permiso-auth/permiso/cmd/permiso")
	}
	build(t, ".", tmp+string(filepath.Separator), "./cmd/mt5-api", "./cmd/trading-bot", "./cmd/setup")
	cluster := newKubernetesIssuer(t)

	permisoAddr, mt5Addr := freeAddr(t), freeAddr(t)
	issuer, mt5 := "http://"+permisoAddr, "http://"+mt5Addr
	dataDir := filepath.Join(tmp, "data")
	// The cluster's discovery is on loopback here, which Permiso fetches
	// from only when told to.
	permiso := start(t, "permiso", nil, permisoBin, "serve", "--data-dir", dataDir, "--addr", permisoAddr,
		"--outbound-allow", "127.0.0.1/32")
	waitOK(t, issuer+"/healthz", permiso)
	out, err := run(t, nil, filepath.Join(tmp, "setup"), "--permiso-url", issuer, "--bootstrap-file",
		filepath.Join(dataDir, "bootstrap-admin.json"), "--mt5-audience", audience, "--secrets-out", filepath.Join(tmp, "secrets.json"),
		"--bot-auth", "federated", "--k8s-issuer", cluster.url, "--k8s-audience", "permiso",
		"--k8s-subject", "system:serviceaccount:trading:trading-bot")
	if err != nil || !strings.Contains(out, "auth=federated_jwt") || !strings.Contains(out, "bound to system:serviceaccount:trading:trading-bot") {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	api := start(t, "mt5-api", nil, filepath.Join(tmp, "mt5-api"), "--addr", mt5Addr, "--issuer", issuer, "--audience", audience)
	waitOK(t, mt5+"/health", api)

	tokenFile := filepath.Join(tmp, "var-run-secrets-permiso-token")
	bot := func(account string) (string, error) {
		if err := os.WriteFile(tokenFile, []byte(cluster.projectedToken(t, "trading", account, "permiso", time.Hour)), 0o600); err != nil {
			t.Fatal(err)
		}
		return run(t, []string{"PERMISO_ASSERTION_FILE=" + tokenFile, "PERMISO_CLIENT_SECRET=", "PERMISO_CLIENT_ID="},
			filepath.Join(tmp, "trading-bot"), "--issuer", issuer, "--mt5-url", mt5, "--audience", audience,
			"--iterations", "3", "--interval", "200ms", "--hold", "1")
	}
	out, err = bot("trading-bot")
	if err != nil {
		t.Fatalf("trading-bot with its projected token: %v\n%s", err, out)
	}
	for _, want := range []string{"market data", "position opened", "position closed"} {
		if !strings.Contains(out, want) {
			t.Errorf("bot output lacks %q:\n%s", want, out)
		}
	}
	// Another service account of the cluster is not the bot.
	if out, err := bot("intruder"); err == nil || !strings.Contains(out, "invalid_client") {
		t.Fatalf("an unbound service account's token: %v\n%s", err, out)
	}
}
