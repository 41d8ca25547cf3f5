package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/go-jose/go-jose/v4"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// credentialFlags are the flags of clients create and update that register
// how a client without a secret authenticates (docs/machine-identity.md).
type credentialFlags struct {
	method                                   string
	privateKeyJWT                            bool
	keyOut, jwksFile, publicKeyFile, jwksURI string
	selfSignedCert                           string
	federated, spiffe                        bool
	tls                                      map[string]*string
}

var tlsFields = []string{"subject_dn", "san_dns", "san_uri", "san_ip", "san_email"}

func addCredentialFlags(fs *flag.FlagSet) *credentialFlags {
	f := &credentialFlags{tls: map[string]*string{}}
	fs.StringVar(&f.method, "auth-method", "", "token_endpoint_auth_method: client_secret_basic, client_secret_post, private_key_jwt, federated_jwt, spiffe_jwt, tls_client_auth or self_signed_tls_client_auth")
	fs.BoolVar(&f.privateKeyJWT, "private-key-jwt", false, "private_key_jwt with a new ES256 key: the private key is written to --key-out, the public key registered")
	fs.StringVar(&f.keyOut, "key-out", "", "where --private-key-jwt writes the private key (PKCS #8 PEM, mode 0600; default CLIENT_ID.key.pem)")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "register the public keys of this JWK Set file (private_key_jwt)")
	fs.StringVar(&f.publicKeyFile, "public-key-file", "", "register this PEM public key (private_key_jwt)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "register the https URL where the client publishes its keys (private_key_jwt)")
	fs.StringVar(&f.selfSignedCert, "self-signed-cert", "", "self_signed_tls_client_auth with this PEM certificate's key")
	fs.BoolVar(&f.federated, "federated", false, "federated_jwt: authenticate with a token of a trust the client is bound to (permiso trusts bind)")
	fs.BoolVar(&f.spiffe, "spiffe", false, "spiffe_jwt: authenticate with a SPIFFE JWT-SVID (permiso trusts bind)")
	for _, n := range tlsFields {
		f.tls[n] = fs.String("tls-"+dashed(n), "", "tls_client_auth: the certificate's registered "+n+" (RFC 8705 §2.1.2)")
	}
	return f
}

func dashed(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

// apply adds the credential fields to body. It may generate a key pair,
// whose private key it writes to a file and names on stderr.
func (f *credentialFlags) apply(fs *flag.FlagSet, body *apitype.ClientFields, clientID string, stderr io.Writer) error {
	method := f.method
	setMethod := func(m string) error {
		if method != "" && method != m {
			return fmt.Errorf("--auth-method %s conflicts with a %s flag", method, m)
		}
		method = m
		return nil
	}
	var keys []any
	if f.privateKeyJWT {
		if err := setMethod(wire.AuthPrivateKeyJWT); err != nil {
			return err
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		out := f.keyOut
		if out == "" {
			if clientID == "" {
				return errors.New("--private-key-jwt needs --key-out (or --id, to name the file after it)")
			}
			out = clientID + ".key.pem"
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := os.WriteFile(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("write private key: %w", err)
		}
		jwk, err := publicJWK(key.Public(), "ES256")
		if err != nil {
			return err
		}
		keys = append(keys, jwk)
		fmt.Fprintf(stderr, "Private key written to %s (kid %s); keep it with the service, it is not stored anywhere else.\n", out, jwk["kid"])
	}
	if f.publicKeyFile != "" {
		if err := setMethod(wire.AuthPrivateKeyJWT); err != nil {
			return err
		}
		b, err := os.ReadFile(f.publicKeyFile)
		if err != nil {
			return err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return fmt.Errorf("%s holds no PEM block", f.publicKeyFile)
		}
		pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return fmt.Errorf("%s: %w (want a PUBLIC KEY block)", f.publicKeyFile, err)
		}
		jwk, err := publicJWK(pub, "")
		if err != nil {
			return err
		}
		keys = append(keys, jwk)
	}
	if f.selfSignedCert != "" {
		if err := setMethod(wire.AuthSelfSignedTLSClientAuth); err != nil {
			return err
		}
		b, err := os.ReadFile(f.selfSignedCert)
		if err != nil {
			return err
		}
		blk, _ := pem.Decode(b)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return fmt.Errorf("%s holds no PEM certificate", f.selfSignedCert)
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return err
		}
		jwk, err := publicJWK(cert.PublicKey, "")
		if err != nil {
			return err
		}
		keys = append(keys, jwk)
	}
	if f.jwksFile != "" {
		b, err := os.ReadFile(f.jwksFile)
		if err != nil {
			return err
		}
		var set struct {
			Keys []any `json:"keys"`
		}
		if err := json.Unmarshal(b, &set); err != nil || set.Keys == nil {
			return fmt.Errorf("%s is not a JWK Set", f.jwksFile)
		}
		keys = append(keys, set.Keys...)
		if method == "" {
			method = wire.AuthPrivateKeyJWT
		}
	}
	if len(keys) > 0 {
		raw, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			return err
		}
		body.JWKS = apitype.NullableJSON{Set: true, Value: raw}
	}
	if f.jwksURI != "" {
		if len(keys) > 0 {
			return errors.New("register keys or a jwks_uri, not both")
		}
		body.JWKSURI = &f.jwksURI
		if method == "" {
			method = wire.AuthPrivateKeyJWT
		}
	}
	if f.federated {
		if err := setMethod(wire.AuthFederatedJWT); err != nil {
			return err
		}
	}
	if f.spiffe {
		if err := setMethod(wire.AuthSPIFFEJWT); err != nil {
			return err
		}
	}
	dst := map[string]**string{"subject_dn": &body.TLSSubjectDN, "san_dns": &body.TLSSANDNS, "san_uri": &body.TLSSANURI,
		"san_ip": &body.TLSSANIP, "san_email": &body.TLSSANEmail}
	for _, n := range tlsFields {
		if isSet(fs, "tls-"+dashed(n)) {
			*dst[n] = f.tls[n]
			if *f.tls[n] != "" && method == "" {
				method = wire.AuthTLSClientAuth
			}
		}
	}
	if method != "" {
		body.TokenEndpointAuthMethod = &method
	}
	return nil
}

// publicJWK returns pub as a JWK whose kid is its RFC 7638 thumbprint, the
// kid the SDK puts in its assertions for the same key.
func publicJWK(pub crypto.PublicKey, alg string) (map[string]any, error) {
	k := jose.JSONWebKey{Key: pub, Use: "sig", Algorithm: alg}
	sum, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(sum)
	b, err := k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(b, &m)
	return m, err
}
