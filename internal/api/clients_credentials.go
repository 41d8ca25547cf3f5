package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// The credential fields of a client that holds no shared secret (RFC 7591
// §2 jwks and jwks_uri, RFC 8705 §2.1.2 tls_client_auth_*).

// maxJWKSBytes bounds a registered key set.
const maxJWKSBytes = 64 << 10

// secretMethods are the methods that authenticate with a client secret.
var secretMethods = []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost}

// confidentialMethods are the methods a confidential client may register.
var confidentialMethods = []string{wire.AuthClientSecretBasic, wire.AuthClientSecretPost, wire.AuthPrivateKeyJWT,
	wire.AuthTLSClientAuth, wire.AuthSelfSignedTLSClientAuth, wire.AuthFederatedJWT, wire.AuthSPIFFEJWT}

// usesSecret reports whether a client authenticates with a secret.
func usesSecret(c *store.Client) bool {
	return c.Type != wire.ClientTypePublic && (c.TokenEndpointAuthMethod == "" || slices.Contains(secretMethods, c.TokenEndpointAuthMethod))
}

// tlsFields returns the tls_client_auth_* fields of a body by name.
func (f clientFields) tlsFields() map[string]*string {
	return map[string]*string{
		mtls.FieldSubjectDN: f.TLSSubjectDN, mtls.FieldSANDNS: f.TLSSANDNS, mtls.FieldSANURI: f.TLSSANURI,
		mtls.FieldSANIP: f.TLSSANIP, mtls.FieldSANEmail: f.TLSSANEmail,
	}
}

// applyCredentials validates the present credential fields and sets them on c.
func (f clientFields) applyCredentials(c *store.Client, problems *web.Fields) {
	if f.JWKS.Set {
		c.JWKS = nil
		if len(f.JWKS.Value) > 0 {
			c.JWKS = checkJWKS("jwks", f.JWKS.Value, problems)
		}
	}
	if f.JWKSURI != nil {
		c.JWKSURI = *f.JWKSURI
	}
	given := 0
	for _, field := range mtls.Fields {
		v := f.tlsFields()[field]
		if v == nil {
			continue
		}
		if *v == "" {
			if c.TLSClientAuth.Field == field {
				c.TLSClientAuth = store.TLSClientAuth{}
			}
			continue
		}
		given++
		norm, err := mtls.NormalizeValue(field, *v)
		if err != nil {
			problems.Addf("tls_client_auth_%s %v", field, err)
			continue
		}
		c.TLSClientAuth = store.TLSClientAuth{Field: field, Value: norm}
	}
	if given > 1 {
		problems.Addf("register exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip and _san_email (RFC 8705 §2.1.2)")
	}
}

// checkJWKS validates a registered JWK Set: public signature keys that the
// one verifier can use, nothing private. It returns the set compacted.
func checkJWKS(field string, raw json.RawMessage, problems *web.Fields) json.RawMessage {
	if len(raw) > maxJWKSBytes {
		problems.Addf("%s must be at most %d bytes", field, maxJWKSBytes)
		return nil
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Keys == nil {
		problems.Addf(`%s must be a JWK Set: {"keys": [...]}`, field)
		return nil
	}
	if len(doc.Keys) == 0 || len(doc.Keys) > jwt.MaxJWKSKeys {
		problems.Addf("%s must hold 1 to %d keys", field, jwt.MaxJWKSKeys)
		return nil
	}
	for i, k := range doc.Keys {
		if _, err := jwt.ParseJWK(k); err != nil {
			problems.Addf("%s: key %d cannot be used: %v (register public signature keys only: EC P-256/384/521, Ed25519 or RSA of 2048 bits or more)", field, i+1, err)
		}
	}
	if _, err := jwt.ParseJWKS(raw); err != nil {
		problems.Addf("%s: %v", field, err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		problems.Addf("%s is not valid JSON", field)
		return nil
	}
	return out.Bytes()
}

// checkCredentials checks a confidential client's method against its
// credential fields, after apply: each method has exactly what it needs.
// explicitTLS says the body set a tls_client_auth_* field.
func (a *API) checkCredentials(c *store.Client, explicitTLS bool, problems *web.Fields) {
	if c.Type == wire.ClientTypePublic {
		if len(c.JWKS) > 0 || c.JWKSURI != "" || c.TLSClientAuth.Field != "" {
			problems.Addf("public clients register no keys or certificates")
		}
		return
	}
	m := c.TokenEndpointAuthMethod
	if len(c.JWKS) > 0 && c.JWKSURI != "" {
		problems.Addf("jwks and jwks_uri must not both be present (RFC 7591 §2); register one")
	}
	if c.JWKSURI != "" {
		if err := a.checkKeyURL(c.JWKSURI); err != nil {
			problems.Addf("jwks_uri %v", err)
		}
	}
	keyed := len(c.JWKS) > 0 || c.JWKSURI != ""
	mtlsOn, cas := a.cfg.OAuth.MTLSAvailable()
	switch m {
	case wire.AuthPrivateKeyJWT, wire.AuthSelfSignedTLSClientAuth:
		if !keyed {
			problems.Addf("%s needs the client's public keys: jwks or jwks_uri", m)
		}
	}
	switch m {
	case wire.AuthTLSClientAuth:
		if c.TLSClientAuth.Field == "" {
			problems.Addf("tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip and _san_email")
		}
		if !cas {
			problems.Addf("tls_client_auth needs client CAs on the server (--client-ca-file)")
		}
	default:
		if explicitTLS && c.TLSClientAuth.Field != "" {
			problems.Addf("tls_client_auth_* fields apply to the tls_client_auth method only")
		}
		c.TLSClientAuth = store.TLSClientAuth{}
	}
	if (m == wire.AuthTLSClientAuth || m == wire.AuthSelfSignedTLSClientAuth) && !mtlsOn {
		problems.Addf("%s needs mutual TLS on the server (--mtls-addr, or --client-cert-header behind a proxy)", m)
	}
}

// checkKeyURL checks a URL keys are fetched from: one the outbound client
// may fetch, over https (http only for an allowed internal address).
func (a *API) checkKeyURL(raw string) error {
	if a.cfg.RemoteKeys == nil {
		return fmt.Errorf("cannot be used: this server fetches no remote keys")
	}
	return a.cfg.RemoteKeys.CheckURL(raw)
}

// expireSecretsOf ends the secrets of a client that no longer
// authenticates with one, so it never can again by mistake.
func (a *API) expireSecretsOf(ctx context.Context, c *store.Client) error {
	if err := a.cfg.Store.ExpireClientSecrets(ctx, c.ID, "", a.cfg.Now()); err != nil {
		return fmt.Errorf("expire secrets of %q: %w", c.ClientID, err)
	}
	return nil
}

// anyTLS reports whether the body sets a tls_client_auth_* field.
func (f clientFields) anyTLS() bool {
	for _, v := range f.tlsFields() {
		if v != nil && *v != "" {
			return true
		}
	}
	return false
}

// secretOrigin names where a new client's secret came from, for the audit log.
func secretOrigin(imported, hashed bool) string {
	switch {
	case !hashed:
		return "none"
	case imported:
		return "imported"
	}
	return "generated"
}
