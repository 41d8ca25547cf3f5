package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/permiso-auth/permiso/sdk/clientcredentials"
)

// How trading-bot authenticates (--bot-auth).
const (
	// botPrivateKey registers a key pair (private_key_jwt): setup makes
	// the key, writes the private half for the bot and registers the
	// public half. The bot holds no Permiso secret. The default.
	botPrivateKey = "private-key-jwt"
	// botFederated binds the bot to a Kubernetes service account
	// (workload identity federation): the bot presents the token the
	// kubelet projects into its pod.
	botFederated = "federated"
	// botSecret gives the bot a client secret, as the original did.
	botSecret = "secret"
)

// botOptions say how setup registers trading-bot.
type botOptions struct {
	auth, keyFile                      string
	k8sIssuer, k8sAudience, k8sSubject string
}

// credentialFields returns the bot's registration fields for o, making
// (or reusing) its key for private_key_jwt.
func (o botOptions) credentialFields() (map[string]any, error) {
	switch o.auth {
	case botSecret:
		return nil, nil
	case botFederated:
		if o.k8sIssuer == "" {
			return nil, errors.New("--bot-auth federated needs --k8s-issuer (the cluster's service account issuer)")
		}
		return map[string]any{"token_endpoint_auth_method": "federated_jwt"}, nil
	case botPrivateKey:
		key, err := loadOrMakeKey(o.keyFile)
		if err != nil {
			return nil, err
		}
		jwk, err := publicJWK(&key.PublicKey)
		if err != nil {
			return nil, err
		}
		return map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{jwk}}}, nil
	}
	return nil, fmt.Errorf("--bot-auth %q: want %s, %s or %s", o.auth, botPrivateKey, botFederated, botSecret)
}

// loadOrMakeKey reads the bot's P-256 key from file, or makes one and
// writes it there (PKCS #8 PEM, mode 0600), so running setup again keeps
// the key the bot already has.
func loadOrMakeKey(file string) (*ecdsa.PrivateKey, error) {
	if b, err := os.ReadFile(file); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM key", file)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: not an ECDSA key", file)
		}
		return ec, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("write the bot's key: %w", err)
	}
	return k, nil
}

// publicJWK is the public key as a JWK, with the RFC 7638 thumbprint as
// kid: the kid the SDK signs the bot's assertions with.
func publicJWK(pub *ecdsa.PublicKey) (map[string]any, error) {
	kid, err := clientcredentials.Thumbprint(pub)
	if err != nil {
		return nil, err
	}
	raw, err := pub.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
	if err != nil {
		return nil, err
	}
	b64 := base64.RawURLEncoding.EncodeToString
	return map[string]any{"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(raw[1:33]), "y": b64(raw[33:])}, nil
}

// ensureFederation registers the cluster as a trust and binds the bot to
// its service account, unless they exist.
func (a *adminAPI) ensureFederation(ctx context.Context, o botOptions, clientID string) error {
	status, body, err := a.send(ctx, http.MethodPost, "/trusts", map[string]any{"name": "trading-cluster",
		"issuer": o.k8sIssuer, "key_source": "oidc", "audience": o.k8sAudience, "max_token_age": 3600})
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusConflict {
		return fmt.Errorf("create trust: HTTP %d: %s", status, body)
	}
	status, body, err = a.send(ctx, http.MethodPost, "/trusts/trading-cluster/bindings",
		map[string]any{"client_id": clientID, "subject": o.k8sSubject})
	if err != nil {
		return err
	}
	if status != http.StatusCreated && status != http.StatusConflict {
		return fmt.Errorf("bind trading-bot: HTTP %d: %s", status, body)
	}
	return nil
}
