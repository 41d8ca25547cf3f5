package bench

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// Scenario names, as --scenario takes them.
const (
	ScenarioCCBasic    = "cc-basic"
	ScenarioCCPost     = "cc-post"
	ScenarioDPoP       = "dpop"
	ScenarioIntrospect = "introspect"
	ScenarioJWKS       = "jwks"
	ScenarioMetadata   = "metadata"
	ScenarioPassword   = "password"
	ScenarioRefresh    = "refresh"
	ScenarioExchange   = "exchange"
	ScenarioMixed      = "mixed"
	// ScenarioClients100k and ScenarioFeed1M start seeded servers of their
	// own; "all" leaves them out (name them in --scenario).
	ScenarioClients100k = "clients100k"
	ScenarioFeed1M      = "feed-1m"
	// ScenarioTenants1k starts a server of 1,000 tenants of 10 clients.
	ScenarioTenants1k = "tenants"
)

// scenario is one kind of load: prepare creates what it needs on the
// server and returns the per-worker operation.
type scenario struct {
	name string
	help string
	// reference says the scenario also runs against the reference handler.
	reference bool
	prepare   func(ctx context.Context, s *setup) (func(worker int) Op, error)
	// standalone, when set, runs the whole scenario on servers it starts
	// itself; prepare is unused.
	standalone func(ctx context.Context, cfg Config, log *slog.Logger) ScenarioResult
	// scale marks a scenario that "all" leaves out (it takes minutes).
	scale bool
}

// referenceOps are the requests to the reference handler of the scenarios
// that do not compare with its client_credentials request.
var referenceOps = map[string]func(ctx context.Context, s *setup, ref *referenceServer) (func(worker int) Op, error){
	ScenarioExchange:      refExchangeOp,
	ScenarioPrivateKeyJWT: refPrivateKeyJWTOp,
}

func scenarios() []scenario {
	return []scenario{
		{name: ScenarioCCBasic, help: "client_credentials, client_secret_basic", reference: true, prepare: func(ctx context.Context, s *setup) (func(int) Op, error) {
			id, secret, err := s.serviceClient(ctx)
			return ccOp(s.base, id, secret, false), err
		}},
		{name: ScenarioCCPost, help: "client_credentials, client_secret_post", reference: true, prepare: func(ctx context.Context, s *setup) (func(int) Op, error) {
			id, secret, err := s.serviceClient(ctx)
			return ccOp(s.base, id, secret, true), err
		}},
		{name: ScenarioDPoP, help: "client_credentials with a fresh DPoP proof per request (RFC 9449)", reference: true, prepare: prepareDPoP},
		{name: ScenarioPrivateKeyJWT, help: "client_credentials, private_key_jwt: a fresh ES256 assertion per request, jti recorded (reference: its minimal private_key_jwt)", reference: true, prepare: preparePrivateKeyJWT},
		{name: ScenarioFederated, help: "client_credentials, federated_jwt: a Kubernetes service account token, reused", reference: true, prepare: prepareFederated},
		{name: ScenarioSPIFFE, help: "client_credentials, spiffe_jwt: a JWT-SVID, reused", reference: true, prepare: prepareSPIFFE},
		{name: ScenarioTLSClientAuth, help: "client_credentials, tls_client_auth: a certificate forwarded by a trusted proxy", reference: true, prepare: prepareTLSClientAuth},
		{name: ScenarioSelfSignedTLS, help: "client_credentials, self_signed_tls_client_auth: a self-signed certificate forwarded by a trusted proxy", reference: true, prepare: prepareSelfSignedTLS},
		{name: ScenarioIntrospect, help: "POST /oauth2/introspect of a live token", reference: false, prepare: prepareIntrospect},
		{name: ScenarioJWKS, help: "GET /.well-known/jwks.json", reference: false, prepare: func(_ context.Context, s *setup) (func(int) Op, error) {
			return getOp(s.base, "/.well-known/jwks.json", "keys"), nil
		}},
		{name: ScenarioMetadata, help: "GET /.well-known/oauth-authorization-server", reference: false, prepare: func(_ context.Context, s *setup) (func(int) Op, error) {
			return getOp(s.base, "/.well-known/oauth-authorization-server", "issuer"), nil
		}},
		{name: ScenarioPassword, help: "password grant of a registered user", reference: false, prepare: preparePassword},
		{name: ScenarioRefresh, help: "refresh_token grant, rotating per connection", reference: false, prepare: prepareRefresh},
		{name: ScenarioExchange, help: "token exchange (RFC 8693) of a service token for another audience, delegation", reference: true, prepare: prepareExchange},
		{name: ScenarioMixed, help: "4 cc-basic : 1 cc-post : 3 introspect : 1 jwks : 1 metadata", reference: false, prepare: prepareMixed},
		{name: ScenarioClients100k, help: "100,000 clients: a random client per request vs one; heap per client; statistics at 100k vs 1k",
			standalone: runClients100k, scale: true},
		{name: ScenarioFeed1M, help: "1,000,000 revocations: tokens while 4 clients poll the revocation feed vs without",
			standalone: runFeed1M, scale: true},
		{name: ScenarioTenants1k, help: "1,000 tenants of 10 clients: a random tenant per request vs one; heap per loaded tenant",
			standalone: runTenants1k, scale: true},
	}
}

// ScenarioNames returns every scenario name in the order "all" runs them
// (the scale scenarios are left out of "all").
func ScenarioNames() []string {
	var names []string
	for _, sc := range scenarios() {
		if !sc.scale {
			names = append(names, sc.name)
		}
	}
	return names
}

// ScenarioHelp returns one line per scenario for --help.
func ScenarioHelp() string {
	var b strings.Builder
	for _, sc := range scenarios() {
		fmt.Fprintf(&b, "  %-11s %s\n", sc.name, sc.help)
	}
	return b.String()
}

func lookupScenario(name string) (scenario, bool) {
	for _, sc := range scenarios() {
		if sc.name == name {
			return sc, true
		}
	}
	return scenario{}, false
}

// okOp sends r and applies check to a 200 answer.
func okOp(r request, check func([]byte) error) Op {
	return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
		body, err := r.send(ctx, c, buf, http.StatusOK)
		if err != nil {
			return err
		}
		return check(body)
	}
}

// ccOp is the client_credentials request, with the secret in HTTP Basic or
// (post) in the form.
func ccOp(base, id, secret string, post bool) func(int) Op {
	form := url.Values{"grant_type": {"client_credentials"}}
	r := formRequest(base, "/oauth2/token", form, id, secret)
	if post {
		form.Set("client_id", id)
		form.Set("client_secret", secret)
		r = formRequest(base, "/oauth2/token", form, "", "")
	}
	return func(int) Op { return okOp(r, checkToken) }
}

// getOp is a GET whose JSON answer must have the named member.
func getOp(base, path, member string) func(int) Op {
	r := getRequest(base, path)
	check := func(body []byte) error {
		if _, ok := jsonValue(body, member); !ok {
			return &CheckError{Kind: "no_" + member}
		}
		return nil
	}
	return func(int) Op { return okOp(r, check) }
}

func prepareIntrospect(ctx context.Context, s *setup) (func(int) Op, error) {
	tok, err := s.live(ctx)
	if err != nil {
		return nil, err
	}
	r := formRequest(s.base, "/oauth2/introspect", url.Values{"token": {tok}}, s.ccID, s.ccSecret)
	return func(int) Op { return okOp(r, checkActive) }, nil
}

func preparePassword(ctx context.Context, s *setup) (func(int) Op, error) {
	u, err := s.userSetup(ctx)
	if err != nil {
		return nil, err
	}
	return func(int) Op { return okOp(u.login, checkToken) }, nil
}

// prepareRefresh gives each connection its own refresh-token chain: every
// request spends the token the previous answer returned. When a chain
// breaks (an error, or an answer without a refresh token), the next
// request of that connection is a password login that starts a new one.
func prepareRefresh(ctx context.Context, s *setup) (func(int) Op, error) {
	u, err := s.userSetup(ctx)
	if err != nil {
		return nil, err
	}
	rts, err := s.refreshTokens(ctx, u, s.conns)
	if err != nil {
		return nil, err
	}
	return func(worker int) Op {
		rt := rts[worker%len(rts)]
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			r := u.login
			if rt != "" {
				r = u.refreshRequest(s.base, rt)
			}
			rt = ""
			body, err := r.send(ctx, c, buf, http.StatusOK)
			if err != nil {
				return err
			}
			if err := checkToken(body); err != nil {
				return err
			}
			next, ok := jsonString(body, "refresh_token")
			if !ok || len(next) == 0 {
				return &CheckError{Kind: "no_refresh_token"}
			}
			rt = string(next)
			return nil
		}
	}, nil
}

// prepareMixed interleaves the steady scenarios by weight, each worker
// starting at a different point of the cycle; a part the server lacks is
// left out.
func prepareMixed(ctx context.Context, s *setup) (func(int) Op, error) {
	weights := []struct {
		name string
		n    int
	}{{ScenarioCCBasic, 4}, {ScenarioCCPost, 1}, {ScenarioIntrospect, 3}, {ScenarioJWKS, 1}, {ScenarioMetadata, 1}}
	var parts []func(int) Op
	var firstErr error
	for _, w := range weights {
		sc, _ := lookupScenario(w.name)
		newOp, err := sc.prepare(ctx, s)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", w.name, err)
			}
			continue
		}
		for range w.n {
			parts = append(parts, newOp)
		}
	}
	if len(parts) == 0 {
		return nil, firstErr
	}
	return func(worker int) Op {
		ops := make([]Op, len(parts))
		for i, p := range parts {
			ops[i] = p(worker)
		}
		next := worker * 7 // spread the workers over the cycle
		return func(ctx context.Context, c *http.Client, buf *bytes.Buffer) error {
			op := ops[next%len(ops)]
			next++
			return op(ctx, c, buf)
		}
	}, nil
}
