package trading_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/examples/trading/risk"
	"github.com/permiso-auth/permiso/sdk/clientcredentials"
	"github.com/permiso-auth/permiso/sdk/dpop"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// delegationWorld is what the delegation test needs of the running example.
type delegationWorld struct {
	issuer, mt5, risk string
	admin             clientcredentials.Config
	mt5Secret         string
}

// delegatedTrading signs a trader in at a trading desk and trades through
// mt5-api, which asks the risk service on her behalf with an exchanged
// token (RFC 8693): risk sees the trader as subject and mt5-api as actor,
// nobody gets a scope she lacks, and signing her out ends the downstream
// call within the revocation feed's delay.
func delegatedTrading(t *testing.T, w delegationWorld) {
	ctx := context.Background()
	adminTok, err := w.admin.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	adminCall := func(method, path string, body any) []byte {
		t.Helper()
		st, _, b := call(t, method, w.issuer+path, adminTok.AccessToken, body)
		if st != http.StatusCreated && st != http.StatusOK {
			t.Fatalf("%s %s = %d %s", method, path, st, b)
		}
		return b
	}
	var desk struct {
		ClientSecret string `json:"client_secret"`
	}
	json.Unmarshal(adminCall("POST", "/api/v1/service-clients", map[string]any{"client_id": "trading-desk",
		"name": "Trading desk", "grant_types": []string{"password", "refresh_token"}, "audiences": []string{audience},
		"scope_ids":                []string{"trade:read", "trade:open", "trade:close", "account:read", "market:data"},
		"dpop_bound_access_tokens": true}), &desk)
	for _, u := range []struct{ name, role string }{{"tara", "trader"}, {"vic", "user"}} {
		adminCall("POST", "/api/v1/users", map[string]any{"username": u.name, "email": u.name + "@example.com",
			"password": "Sunny!Meadow-42", "is_verified": true, "role_ids": []string{u.role}})
	}
	traderKey := newSigner(t)
	signIn := func(username string) (access, refresh string) {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {"Sunny!Meadow-42"},
			"resource": {audience}}
		req, _ := http.NewRequest("POST", w.issuer+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("trading-desk", url.QueryEscape(desk.ClientSecret))
		p, _ := traderKey.Proof("POST", w.issuer+"/oauth2/token", dpop.ProofOptions{})
		req.Header.Set("DPoP", p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tr wire.TokenResponse
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &tr) != nil || tr.TokenType != wire.TokenTypeDPoP {
			t.Fatalf("sign-in of %s = %d %s", username, resp.StatusCode, b)
		}
		return tr.AccessToken, tr.RefreshToken
	}
	tara, taraRefresh := signIn("tara")
	order := func(volume float64) map[string]any {
		return map[string]any{"symbol": "EURUSD", "volume": volume, "trade_type": "buy"}
	}

	// Three hops: the trader, mt5-api, the risk service.
	if st, _, b := callDPoP(t, traderKey, "POST", w.mt5+"/api/v1/trades", tara, order(0.1)); st != http.StatusOK {
		t.Fatalf("the trader's order = %d %s", st, b)
	}
	// The risk service's own decision comes back: mt5-api asked it for her.
	st, _, b := callDPoP(t, traderKey, "POST", w.mt5+"/api/v1/trades", tara, order(50))
	if st != http.StatusBadRequest || !strings.Contains(string(b), "risk check") {
		t.Fatalf("an order beyond the risk limit = %d %s", st, b)
	}

	// What the risk service sees: exchange her token as mt5-api does,
	// forwarding the proof she sent mt5-api, and call risk with the result.
	mt5Key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mt5Signer, _ := dpop.NewSigner(mt5Key)
	mt5Cfg := clientcredentials.Config{IssuerURL: w.issuer, ClientID: "mt5-api-service", ClientSecret: w.mt5Secret, DPoPKey: mt5Key}
	ex := mt5Cfg.Exchanger(ctx)
	defer ex.Close()
	exchange := func(subject string, scopes ...string) (string, error) {
		forwarded, _ := traderKey.Proof("POST", w.mt5+"/api/v1/trades", dpop.ProofOptions{AccessToken: subject})
		tok, err := ex.Exchange(ctx, clientcredentials.ExchangeRequest{SubjectToken: subject, SubjectTokenDPoP: forwarded,
			Audiences: []string{riskAudience}, Scopes: scopes})
		if err != nil {
			return "", err
		}
		return tok.AccessToken, nil
	}
	derived, err := exchange(tara, "trade:open")
	if err != nil {
		t.Fatalf("exchange as mt5-api: %v", err)
	}
	check := func(tok string) (int, []byte) {
		st, _, b := callDPoP(t, mt5Signer, "POST", w.risk+"/api/v1/risk/check", tok, map[string]any{"symbol": "EURUSD", "volume": 1, "trade_type": "buy"})
		return st, b
	}
	st, b = check(derived)
	var d risk.Decision
	if st != http.StatusOK || json.Unmarshal(b, &d) != nil || d.Username != "tara" || len(d.Actors) != 1 ||
		d.Actors[0] != "mt5-api-service" || !d.Approved {
		t.Fatalf("risk saw %d %s; want tara as subject and mt5-api as actor", st, b)
	}
	// Her own token is not for the risk service; mt5-api's own is no one's.
	if st, _ := check(tara); st != http.StatusUnauthorized {
		t.Fatalf("the trader's token at risk = %d", st)
	}

	// A scope the trader lacks is nobody's: vic holds no trade:open.
	vic, _ := signIn("vic")
	_, err = exchange(vic, "trade:open")
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.ErrInvalidScope {
		t.Fatalf("exchange for a scope vic lacks: %v", err)
	}
	if st, _, b := callDPoP(t, traderKey, "POST", w.mt5+"/api/v1/trades", vic, order(0.1)); st != http.StatusForbidden {
		t.Fatalf("vic's order = %d %s", st, b)
	}

	// The trader signs out at the desk (its refresh token revoked, as the
	// dashboard does): the session ends, and with it every token derived
	// from it, at the risk service too, within the feed's delay.
	form := url.Values{"token": {taraRefresh}}
	req, _ := http.NewRequest("POST", w.issuer+"/oauth2/revoke", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("trading-desk", url.QueryEscape(desk.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign-out = %d", resp.StatusCode)
	}
	signedOut := time.Now()
	for {
		riskSt, _ := check(derived)
		mt5St, _, _ := callDPoP(t, traderKey, "POST", w.mt5+"/api/v1/trades", tara, order(0.1))
		if riskSt == http.StatusUnauthorized && mt5St == http.StatusUnauthorized {
			t.Logf("the downstream call failed %v after sign-out", time.Since(signedOut).Round(10*time.Millisecond))
			break
		}
		if time.Since(signedOut) > 15*time.Second {
			t.Fatalf("15s after sign-out: risk %d, mt5-api %d", riskSt, mt5St)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A new exchange (past mt5-api's cache) is refused too.
	fresh := mt5Cfg.Exchanger(ctx)
	defer fresh.Close()
	forwarded, _ := traderKey.Proof("POST", w.mt5+"/api/v1/trades", dpop.ProofOptions{AccessToken: tara})
	_, err = fresh.Exchange(ctx, clientcredentials.ExchangeRequest{SubjectToken: tara, SubjectTokenDPoP: forwarded,
		Audiences: []string{riskAudience}, Scopes: []string{"trade:open"}})
	if !errors.As(err, &we) || we.Code != wire.ErrInvalidRequest {
		t.Fatalf("exchange after sign-out: %v", err)
	}
}

func newSigner(t *testing.T) *dpop.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dpop.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
