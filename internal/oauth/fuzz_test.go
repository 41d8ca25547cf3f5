package oauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/web"
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
