package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"

	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// prepareDPoP is the client_credentials grant with a DPoP proof (RFC 9449
// §5): each request carries a fresh proof, signed by the load generator
// with one P-256 key for POST to the token endpoint the server advertises,
// and must come back as a DPoP token. Against the reference handler, which
// knows nothing of DPoP, the ratio is the cost of proof of possession at
// the token endpoint (the proof's signature check and its single-use jti
// record) on top of everything cc-basic does.
func prepareDPoP(ctx context.Context, s *setup) (func(int) Op, error) {
	id, secret, err := s.serviceClient(ctx)
	if err != nil {
		return nil, err
	}
	md, err := s.call(ctx, getRequest(s.base, "/.well-known/oauth-authorization-server"), http.StatusOK)
	if err != nil {
		return nil, markUnavailable(fmt.Errorf("metadata: %w", err))
	}
	if _, ok := jsonValue(md, "dpop_signing_alg_values_supported"); !ok {
		return nil, markUnavailable(fmt.Errorf("the server does not advertise DPoP (dpop_signing_alg_values_supported)"))
	}
	endpoint, ok := jsonString(md, "token_endpoint")
	if !ok {
		return nil, fmt.Errorf("metadata without token_endpoint")
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := dpop.NewSigner(k)
	if err != nil {
		return nil, err
	}
	htu := string(endpoint)
	base := formRequest(s.base, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	// One proof by hand first, so a server that refuses them fails the
	// setup with its answer rather than the run with a count.
	probe := base
	probe.header = base.header.Clone()
	p, err := signer.Proof(http.MethodPost, htu, dpop.ProofOptions{})
	if err != nil {
		return nil, err
	}
	probe.header.Set(dpop.HeaderProof, p)
	body, err := s.call(ctx, probe, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("DPoP token request: %w", err)
	}
	if err := checkDPoPToken(body); err != nil {
		return nil, fmt.Errorf("DPoP token request: %w", err)
	}
	return func(int) Op {
		r := base
		r.header = base.header.Clone() // each worker owns its header map
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			p, err := signer.Proof(http.MethodPost, htu, dpop.ProofOptions{})
			if err != nil {
				return err
			}
			r.header.Set(dpop.HeaderProof, p)
			body, err := r.send(ctx, c, buf, http.StatusOK)
			if err != nil {
				return err
			}
			return checkDPoPToken(body)
		}
	}, nil
}

// checkDPoPToken requires an access token of token_type DPoP.
func checkDPoPToken(body []byte) error {
	if err := checkToken(body); err != nil {
		return err
	}
	if v, ok := jsonString(body, "token_type"); !ok || string(v) != wire.TokenTypeDPoP {
		return &CheckError{Kind: "not_dpop"}
	}
	return nil
}
