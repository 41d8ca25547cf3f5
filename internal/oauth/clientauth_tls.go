package oauth

import (
	"context"
	"crypto"
	"errors"

	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/jwt"
)

// checkTLSClientAuth is RFC 8705 §2.1: the certificate chains to a
// configured client CA, and carries the one value the client registered.
func (p *Provider) checkTLSClientAuth(c *store.Client, cert *mtls.Presented) *authFailure {
	if p.cfg.ClientCAs == nil {
		return &authFailure{reason: "no_client_ca", err: errors.New("tls_client_auth needs --client-ca-file")}
	}
	if err := p.chains.Verify(cert.Chain, p.cfg.Now()); err != nil {
		return &authFailure{reason: "cert_untrusted", err: err}
	}
	if c.TLSClientAuth.Field == "" || !mtls.Matches(cert.Leaf(), c.TLSClientAuth.Field, c.TLSClientAuth.Value) {
		return &authFailure{reason: "cert_subject_mismatch", err: errors.New("the certificate does not carry the registered " + c.TLSClientAuth.Field)}
	}
	return nil
}

// checkSelfSigned is RFC 8705 §2.2: the certificate's public key is one of
// the client's registered keys; no chain is built, so no CA is involved.
func (p *Provider) checkSelfSigned(ctx context.Context, c *store.Client, cert *mtls.Presented) *authFailure {
	keys, fail := p.clientKeys(c)
	if fail != nil {
		return fail
	}
	var candidates []*jwt.Key
	switch k := keys.(type) {
	case *jwt.Set:
		candidates = k.Keys()
	case interface {
		Keys(context.Context) ([]*jwt.Key, error)
	}:
		var err error
		if candidates, err = k.Keys(ctx); err != nil {
			return &authFailure{reason: "keys_unavailable", err: err}
		}
	}
	pub, ok := cert.Leaf().PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return failed("cert_not_registered")
	}
	for _, k := range candidates {
		if pub.Equal(k.Public) {
			return nil
		}
	}
	return &authFailure{reason: "cert_not_registered", err: errors.New("the certificate's key is not among the client's keys")}
}
