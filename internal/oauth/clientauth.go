package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/federation"
	"github.com/permiso-auth/permiso/internal/remotekeys"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/jwt"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// ClientAuth is a successful client authentication.
type ClientAuth struct {
	Client *store.Client
	// Method is the client's registered token_endpoint_auth_method, the
	// one that authenticated it.
	Method string
	// CertThumbprint is the x5t#S256 (RFC 8705 §3.1) of the certificate
	// the request came with over mutual TLS, whatever the method; empty
	// without one. A certificate-bound access token carries it in cnf.
	CertThumbprint string
	// Trust, Issuer and Subject name the external identity of a client
	// that authenticated with a federated token.
	Trust, Issuer, Subject string
	firstUse               bool // the federated token was verified now, not before
}

// credential kinds: what a request presents to authenticate.
const (
	kindNone      = "none"
	kindSecret    = "secret"
	kindCert      = "certificate"
	kindAssertion = "assertion"
	kindFederated = "federated"
)

// authFailure is why an authentication failed.
type authFailure struct {
	reason string // for logs, metrics and the audit log
	// desc is safe for the caller: it describes only what the caller sent
	// (or, after its signature verified, what its token says). Empty means
	// "Client authentication failed".
	desc        string
	unavailable bool  // 503: Permiso could not decide
	err         error // detail for the log
}

func failed(reason string) *authFailure { return &authFailure{reason: reason} }

func failedBecause(reason, desc string) *authFailure { return &authFailure{reason: reason, desc: desc} }

func fromFederation(f *federation.Failure) *authFailure {
	return &authFailure{reason: f.Reason, desc: f.Description, unavailable: f.Unavailable, err: f.Err}
}

// presented is a request's credential, identified but not yet verified.
type presented struct {
	creds    ClientCredentials
	kind     string
	clientID string     // the client it claims to be
	token    *jwt.Token // an assertion's unverified header and claims
	match    *federation.Match
}

// identify finds which client a request claims to be, from client_id, or
// from an assertion's claims (its sub for private_key_jwt; the binding of
// its trust and subject for a federated token). Only checks that depend on
// nothing but the request happen here.
func (p *Provider) identify(creds ClientCredentials) (*presented, *authFailure) {
	in := &presented{creds: creds, clientID: creds.ID}
	switch {
	case creds.Assertion != "":
		return p.identifyAssertion(in)
	case creds.Secret != "":
		in.kind = kindSecret
	case creds.Cert != nil && creds.ID != "":
		in.kind = kindCert
	default:
		in.kind = kindNone
	}
	if creds.ID == "" {
		return in, failedBecause("no_client", "Client authentication is required")
	}
	return in, nil
}

func (p *Provider) identifyAssertion(in *presented) (*presented, *authFailure) {
	if fed := p.cfg.Federation; fed != nil {
		// A federated token is presented again and again: one verified
		// before is not parsed again (Verify still checks its times).
		if m, ok := fed.Remembered(in.creds.AssertionType, in.creds.Assertion); ok {
			in.kind, in.match, in.clientID = kindFederated, m, m.ClientID
			return in, p.checkFederatedClientID(in)
		}
	}
	tok, err := jwt.ParseUnverified(in.creds.Assertion)
	if err != nil {
		if errors.Is(err, jwt.ErrAlgorithm) {
			return in, failedBecause("assertion_alg", algDescription)
		}
		return in, failedBecause("assertion_malformed", "The client assertion is not a signed JWT in compact form")
	}
	in.token = tok
	if fed := p.cfg.Federation; fed != nil || in.creds.AssertionType == wire.AssertionTypeJWTSPIFFE {
		var (
			m    *federation.Match
			ok   = in.creds.AssertionType == wire.AssertionTypeJWTSPIFFE
			fail *federation.Failure
		)
		if fed != nil {
			m, ok, fail = fed.Find(in.creds.AssertionType, tok)
		} else {
			fail = &federation.Failure{Reason: "unknown_trust"}
		}
		if ok {
			in.kind, in.match = kindFederated, m
			if m != nil {
				in.clientID = m.ClientID
			}
			if fail != nil {
				return in, fromFederation(fail)
			}
			return in, p.checkFederatedClientID(in)
		}
	}
	in.kind = kindAssertion
	if f := p.precheckAssertion(in); f != nil {
		return in, f
	}
	in.clientID = tok.Claims.Subject
	return in, nil
}

// checkFederatedClientID: client_id may name the bound client or, as
// draft-ietf-oauth-spiffe-client-auth has it, be the SPIFFE ID.
func (p *Provider) checkFederatedClientID(in *presented) *authFailure {
	m := in.match
	if id := in.creds.ID; id != "" && id != m.ClientID && id != m.Subject {
		return failedBecause("client_id_mismatch", "client_id does not name the client of this assertion")
	}
	return nil
}

// Authenticate checks a request's client authentication and returns the
// client. The client's registered token_endpoint_auth_method decides what
// it may present: a client registered for a key, a federation binding or a
// certificate never authenticates with a secret. Every failure is
// invalid_client (401). allowPublic lets a public client through with its
// client_id alone.
func (p *Provider) Authenticate(ctx context.Context, creds ClientCredentials, ip string, allowPublic bool) (*ClientAuth, error) {
	in, fail := p.identify(creds)
	var auth *ClientAuth
	if kind, wait := p.overBudget(ctx, in, ip); wait > 0 {
		// Past the failure budget of its address or client id, only a
		// server-generated secret gets through: guessing 256 bits is no
		// threat, and a noisy neighbour behind the same proxy (or someone
		// guessing at this client id) must not lock a service out. The
		// budget stays in force for what can be guessed: imported secrets,
		// assertions, unknown client ids, and public clients' ids.
		if fail == nil {
			auth = p.generatedSecretOnly(ctx, in)
		}
		if auth == nil {
			p.observeLimited("auth_" + kind)
			return nil, web.TooManyRequests(int((wait + time.Second - 1) / time.Second))
		}
	} else if fail == nil {
		auth, fail = p.verifyClient(ctx, in, allowPublic)
	}
	if fail != nil {
		return nil, p.refuse(ctx, in, ip, fail)
	}
	if err := checkIP(auth.Client, ip); err != nil {
		if f := p.cfg.Observer.AuthFailure; f != nil {
			f("ip_not_allowed")
		}
		p.cfg.Audit.Record(ctx, store.AuditEvent{Type: "client.ip_denied", Outcome: audit.Denied, ActorType: "client",
			ActorID: auth.Client.ClientID, IP: ip, RequestID: web.RequestID(ctx)})
		return nil, err
	}
	if creds.Cert != nil {
		auth.CertThumbprint = creds.Cert.Thumbprint()
	}
	// A federated token is audited with its issuer and subject when it is
	// first verified; its reuse (a projected token is presented until the
	// kubelet replaces it) is counted in the client's aggregated
	// token.issued events like any token.
	if auth.Trust != "" && auth.firstUse {
		p.cfg.Audit.Record(ctx, store.AuditEvent{Type: "client.federated_auth", Outcome: audit.Success, ActorType: "client",
			ActorID: auth.Client.ClientID, Target: auth.Client.ClientID, IP: ip, RequestID: web.RequestID(ctx),
			Details: map[string]any{"trust": auth.Trust, "issuer": auth.Issuer, "subject": auth.Subject, "method": auth.Method}})
	}
	return auth, nil
}

// overBudget reports which failure budget (of the address or of the client
// id) is spent, and how long until it has room again; wait is 0 when both
// have room.
func (p *Provider) overBudget(ctx context.Context, in *presented, ip string) (kind string, wait time.Duration) {
	if p.cfg.Limiter == nil {
		return "", 0
	}
	for _, k := range [...][2]string{{"ip", ip}, {"client", in.clientID}} {
		if k[1] == "" {
			continue
		}
		if ok, w := p.cfg.Limiter.AllowAuthAttempt(ctx, k[0], k[1]); !ok && w > wait {
			kind, wait = k[0], w
		}
	}
	return kind, wait
}

// generatedSecretOnly authenticates a client by a server-generated secret
// and nothing else (no Argon2id, no assertion, no public client): the one
// check made past the failure budget. nil means not authenticated.
func (p *Provider) generatedSecretOnly(ctx context.Context, in *presented) *ClientAuth {
	if in.kind != kindSecret || in.creds.Secret == "" {
		return nil
	}
	c, err := p.cfg.Store.GetClient(ctx, in.clientID)
	if err != nil || !c.Active {
		return nil
	}
	method := registeredMethod(&c)
	if method != wire.AuthClientSecretBasic && method != wire.AuthClientSecretPost {
		return nil
	}
	secrets, err := p.cfg.Store.ListClientSecrets(ctx, c.ID, p.cfg.Now())
	if err != nil {
		return nil
	}
	ok := false
	for _, s := range secrets {
		if p.cfg.Secrets.MatchGenerated(in.creds.Secret, s.Hash) {
			ok = true
		}
	}
	if !ok {
		return nil
	}
	return &ClientAuth{Client: &c, Method: method}
}

// AuthenticateClient is Authenticate for callers that need only the client.
func (p *Provider) AuthenticateClient(ctx context.Context, creds ClientCredentials, ip string, allowPublic bool) (*store.Client, error) {
	auth, err := p.Authenticate(ctx, creds, ip, allowPublic)
	if err != nil {
		return nil, err
	}
	return auth.Client, nil
}

// refuse counts, logs and audits a failure and returns its answer.
func (p *Provider) refuse(ctx context.Context, in *presented, ip string, fail *authFailure) error {
	// A database outage is not the caller's failure: counting it would
	// lock clients out for a minute after the database returns.
	if p.cfg.Limiter != nil && !fail.unavailable {
		p.cfg.Limiter.FailedAuth(ctx, "ip", ip)
		if in.clientID != "" {
			p.cfg.Limiter.FailedAuth(ctx, "client", in.clientID)
		}
	}
	if f := p.cfg.Observer.AuthFailure; f != nil {
		f(fail.reason)
	}
	details := map[string]any{"reason": fail.reason, "method": in.creds.Method}
	if in.creds.AssertionType != "" {
		details["assertion_type"] = in.creds.AssertionType
	}
	if m := in.match; m != nil {
		details["trust"], details["issuer"], details["subject"] = m.Trust, m.Issuer, truncate(m.Subject, 256)
	}
	if fail.reason == "keys_unavailable" && fail.err != nil {
		// Why the client's or trust's keys could not be had (an internal
		// address refused, a timeout, a body too large) is for the operator:
		// the caller only ever reads that authentication failed.
		details["keys_error"] = remotekeys.Describe(fail.err)
	}
	p.cfg.Audit.Record(ctx, store.AuditEvent{Type: "client.auth_failure", Outcome: audit.Failure, ActorType: "client",
		ActorID: truncate(in.clientID, 128), IP: ip, RequestID: web.RequestID(ctx), Details: details})
	if fail.err != nil {
		p.cfg.Logger.InfoContext(ctx, "client authentication failed", "reason", fail.reason, "client_id", truncate(in.clientID, 128), "err", fail.err)
	}
	if fail.unavailable {
		if fail.desc != "" {
			return web.Errorf(http.StatusServiceUnavailable, wire.ErrTemporarilyUnavailable, "%s", fail.desc).WithHeader("Retry-After", "5")
		}
		return web.Unavailable(errors.New("client authentication: " + fail.reason))
	}
	if fail.desc != "" {
		return invalidClientBecause(in.creds.Method, fail.desc)
	}
	return invalidClient(in.creds.Method)
}

// registeredMethod is a client's token_endpoint_auth_method, with the
// default of clients stored before it was recorded.
func registeredMethod(c *store.Client) string {
	switch {
	case c.TokenEndpointAuthMethod != "":
		return c.TokenEndpointAuthMethod
	case c.Type == wire.ClientTypePublic:
		return wire.AuthNone
	}
	return wire.AuthClientSecretBasic
}

// methodAccepts says which kinds of credential each registered method
// takes. Both secret methods take a secret either way (Basic or form), as
// clients have always been free to choose.
var methodAccepts = map[string][]string{
	wire.AuthClientSecretBasic:       {kindSecret},
	wire.AuthClientSecretPost:        {kindSecret},
	wire.AuthNone:                    {kindNone, kindCert},
	wire.AuthPrivateKeyJWT:           {kindAssertion},
	wire.AuthTLSClientAuth:           {kindCert},
	wire.AuthSelfSignedTLSClientAuth: {kindCert},
	wire.AuthFederatedJWT:            {kindFederated},
	wire.AuthSPIFFEJWT:               {kindFederated},
}

// verifyClient loads the claimed client and runs the authenticator of its
// registered method.
func (p *Provider) verifyClient(ctx context.Context, in *presented, allowPublic bool) (*ClientAuth, *authFailure) {
	c, err := p.cfg.Store.GetClient(ctx, in.clientID)
	if errors.Is(err, store.ErrNotFound) {
		if in.kind == kindSecret {
			// Spend what a real check costs, so timing does not tell.
			p.cfg.Secrets.Match(in.creds.Secret, make([]byte, 32))
		}
		return nil, failed("unknown_client")
	}
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "load client", "err", err)
		return nil, &authFailure{reason: "unavailable", unavailable: true}
	}
	method := registeredMethod(&c)
	if !slices.Contains(methodAccepts[method], in.kind) {
		return nil, p.wrongMethod(c, method, in)
	}
	var fail *authFailure
	auth := &ClientAuth{Client: &c, Method: method}
	switch method {
	case wire.AuthClientSecretBasic, wire.AuthClientSecretPost:
		fail = p.checkSecret(ctx, &c, in.creds.Secret)
	case wire.AuthNone:
		if !allowPublic || c.Type != wire.ClientTypePublic {
			fail = failed("public_client")
		}
	case wire.AuthPrivateKeyJWT:
		fail = p.checkPrivateKeyJWT(ctx, &c, in)
	case wire.AuthTLSClientAuth:
		fail = p.checkTLSClientAuth(&c, in.creds.Cert)
	case wire.AuthSelfSignedTLSClientAuth:
		fail = p.checkSelfSigned(ctx, &c, in.creds.Cert)
	case wire.AuthFederatedJWT, wire.AuthSPIFFEJWT:
		if in.match.Method != method {
			return nil, p.wrongMethod(c, method, in)
		}
		first, f := p.cfg.Federation.Verify(ctx, in.match, in.creds.Assertion)
		if f != nil {
			fail = fromFederation(f)
		}
		auth.firstUse = first
		auth.Trust, auth.Issuer, auth.Subject = in.match.Trust, in.match.Issuer, in.match.Subject
	default:
		fail = failed("unknown_method")
	}
	if fail != nil {
		return nil, fail
	}
	if !c.Active {
		return nil, failed("client_disabled")
	}
	return auth, nil
}

// wrongMethod is the failure of a credential the client's registered
// method does not take: a secret for a keyed client, say. The caller hears
// only that authentication failed; the audit log says why.
func (p *Provider) wrongMethod(c store.Client, method string, in *presented) *authFailure {
	switch {
	case in.kind == kindSecret && method == wire.AuthNone:
		return failed("public_client")
	case in.kind == kindNone && (method == wire.AuthClientSecretBasic || method == wire.AuthClientSecretPost):
		return failed("missing_secret")
	case in.kind == kindSecret:
		// Spend what a real check costs, so timing does not tell.
		p.cfg.Secrets.Match(in.creds.Secret, make([]byte, 32))
	}
	return &authFailure{reason: "method_mismatch", err: errors.New("client " + c.ClientID + " is registered for " + method + ", not " + in.kind)}
}

// checkSecret compares a secret with the client's unexpired ones.
func (p *Provider) checkSecret(ctx context.Context, c *store.Client, secret string) *authFailure {
	secrets, err := p.cfg.Store.ListClientSecrets(ctx, c.ID, p.cfg.Now())
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "load client secrets", "err", err)
		return &authFailure{reason: "unavailable", unavailable: true}
	}
	ok := false
	for _, s := range secrets {
		if p.cfg.Secrets.Match(secret, s.Hash) {
			ok = true
		}
	}
	if !ok {
		return failed("wrong_secret")
	}
	return nil
}
