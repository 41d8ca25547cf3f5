package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// echoGrant is a grant plugged in at construction: it issues a token to the
// client for its own scopes.
type echoGrant struct{ m oauth.Minter }

func (g echoGrant) Token(_ context.Context, _ *oauth.TokenRequest, c *store.Client) (*oauth.TokenResult, error) {
	return g.m.Issue(wire.Claims{Subject: c.ClientID, ClientID: c.ClientID, Audience: wire.Audience{g.m.Issuer}, Type: wire.ClaimTypeService}, 0)
}

// A grant given in the provider's Config serves the token endpoint and
// shows in the metadata: the place later grants (token exchange) plug in.
func TestPluggedGrant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.cfg.Store.(*store.Cache).UpdateClient(ctx, f.id, func(c store.Client) (store.Client, error) {
		c.GrantTypes = []string{wire.GrantClientCredentials, "urn:test:echo"}
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := f.cfg
	cfg.Grants = []oauth.GrantType{{Name: "urn:test:echo", Grant: echoGrant{oauth.Minter{Issuer: cfg.Issuer, Tokens: cfg.Tokens}}}}
	mux := http.NewServeMux()
	oauth.New(cfg).Mount(mux)

	post := func(grant, secret string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(url.Values{"grant_type": {grant}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(url.QueryEscape(f.id), url.QueryEscape(secret))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	for _, grant := range []string{"urn:test:echo", wire.GrantClientCredentials} {
		if w := post(grant, f.secret); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "access_token") {
			t.Errorf("%s: %d %s", grant, w.Code, w.Body)
		}
	}
	// The dispatcher's shared phases still run: client authentication.
	if w := post("urn:test:echo", "wrong"); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), wire.ErrInvalidClient) {
		t.Errorf("wrong secret: %d %s", w.Code, w.Body)
	}

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, oauth.PathMetadata, nil))
	var md wire.Metadata
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(md.GrantTypesSupported, "urn:test:echo") || md.AuthorizationEndpoint != "" {
		t.Errorf("metadata %+v", md)
	}
}

func TestNewRefusesAGrantTypeTwice(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Grants = []oauth.GrantType{{Name: wire.GrantClientCredentials, Grant: echoGrant{}}}
	defer func() {
		if recover() == nil {
			t.Fatal("New accepted client_credentials twice")
		}
	}()
	oauth.New(cfg)
}
