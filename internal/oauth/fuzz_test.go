package oauth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fapi", "Basic Y2xpZW50OnNlY3JldA==")
	f.Add("grant_type=client_credentials&client_id=c&client_secret=s", "")
	f.Add("grant_type=password&username=u&password=p&scope=", "Basic %%%")
	f.Add("grant_type=x&grant_type=y", "Bearer abc")
	f.Add("%zz", "")
	f.Fuzz(func(t *testing.T, body, authz string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		w := httptest.NewRecorder()
		form, err := web.ParseForm(w, r)
		if err != nil {
			assertClientError(t, err)
			return
		}
		req, err := ParseTokenRequest(r, form)
		if err != nil {
			assertClientError(t, err)
			return
		}
		if req.GrantType == "" {
			t.Fatal("accepted a request without grant_type")
		}
		if len(req.Scopes) > maxScopes || len(req.Resources) > maxResources {
			t.Fatal("limits not enforced")
		}
	})
}

func assertClientError(t *testing.T, err error) {
	t.Helper()
	e, ok := web.AsError(err)
	if !ok || e.Status < 400 || e.Status >= 500 || e.Code == "" {
		t.Fatalf("want a 4xx *web.Error, got %#v", err)
	}
}

// FuzzClientAssertion feeds arbitrary client assertions to the part of
// client authentication that reads them before any key is looked up: it
// must never panic, and whatever it lets through names a client and obeys
// the assertion rules.
func FuzzClientAssertion(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	good := enc(`{"alg":"ES256","kid":"k","typ":"client-authentication+jwt"}`) + "." +
		enc(`{"iss":"bot","sub":"bot","aud":"https://auth.example.com","jti":"j","exp":2000000030}`) + "." + enc("sig")
	f.Add(wire.AssertionTypeJWTBearer, good, "")
	f.Add(wire.AssertionTypeJWTBearer, good, "bot")
	f.Add(wire.AssertionTypeJWTSPIFFE, good, "spiffe://example.org/bot")
	f.Add(wire.AssertionTypeJWTBearer, enc(`{"alg":"none"}`)+"."+enc(`{}`)+".", "")
	f.Add(wire.AssertionTypeJWTBearer, "a.b.c.d.e", "x")
	now := time.Unix(2_000_000_000, 0)
	p := New(Config{Issuer: "https://auth.example.com", Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, typ, assertion, clientID string) {
		in, fail := p.identify(ClientCredentials{ID: clientID, AssertionType: typ, Assertion: assertion, Method: wire.AuthPrivateKeyJWT})
		if fail != nil {
			if fail.reason == "" {
				t.Fatal("a failure without a reason")
			}
			return
		}
		if assertion == "" {
			// No assertion: another method (or none) decides, never this path.
			if in.kind == kindAssertion || in.kind == kindFederated {
				t.Fatalf("an empty assertion was taken as one: %+v", in)
			}
			return
		}
		if in.kind == kindFederated {
			t.Fatalf("federated without a federation: %+v", in)
		}
		if in.kind != kindAssertion || in.clientID == "" || in.token == nil {
			t.Fatalf("accepted without a client: %+v", in)
		}
		c := in.token.Claims
		if c.Issuer != c.Subject || c.Subject != in.clientID || c.ID == "" || len(c.Audience) != 1 ||
			!slices.Contains(AssertionAlgorithms, in.token.Header.Algorithm) || !c.Expiry.Time().After(now.Add(-time.Minute)) {
			t.Fatalf("accepted an assertion against the rules: %+v %+v", in.token.Header, c)
		}
	})
}

// FuzzExchangeRequest feeds token-exchange forms to the parser and the
// grant's checks of untrusted parameters: the RFC 8693 parameter rules and
// the JSON objects of a transaction-token request.
func FuzzExchangeRequest(f *testing.F) {
	f.Add("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=a.b.c&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&audience=x&audience=y")
	f.Add("grant_type=g&subject_token=t&subject_token_type=s&actor_token=a")
	f.Add("grant_type=g&subject_token=t&subject_token_type=s&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Atxn_token&scope=p&request_context=%7B%22a%22%3A1%7D&request_details=%5B%5D")
	f.Add("grant_type=g&request_context=%7B%22a%22%3A%7B%22b%22%3Anull%7D%7D&request_details=%7B")
	x := &Exchange{cfg: ExchangeConfig{TrustDomain: "trading.example"}}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := web.ParseForm(httptest.NewRecorder(), r)
		if err != nil {
			assertClientError(t, err)
			return
		}
		req, err := ParseTokenRequest(r, form)
		if err != nil {
			assertClientError(t, err)
			return
		}
		if _, err := x.checkRequest(req); err != nil {
			assertClientError(t, err)
		}
		for name, v := range map[string]string{"request_context": req.RequestContext, "request_details": req.RequestDetails} {
			obj, err := jsonObject(name, v)
			if err != nil {
				assertClientError(t, err)
				continue
			}
			if v != "" && (len(obj) == 0 || obj[0] != '{') {
				t.Fatalf("%s %q accepted as %q", name, v, obj)
			}
		}
	})
}
