package server_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/bench"
	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// TestTokenExchangeThirdPartyClient: oauth4webapi (pinned in
// testdata/oauth4webapi), an independent implementation of RFC 8693's
// client side, exchanges a trader's token at Permiso for one meant for the
// risk service, asks for a transaction token, and reads a refusal.
func TestTokenExchangeThirdPartyClient(t *testing.T) {
	dir := oauth4webapi(t)
	w := newWorld(t)
	alice := w.ts.createUser("alice", "trader")
	subject := w.userToken("dashboard", "alice")["access_token"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "exchange.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ISSUER="+w.ts.URL, "CLIENT_ID=mt5-api", "CLIENT_SECRET="+w.secrets["mt5-api"],
		"SUBJECT_TOKEN="+subject, "AUDIENCE="+riskAud, "TRUST_DOMAIN="+trustDomain)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node exchange.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var rep struct {
		AccessToken        string `json:"access_token"`
		TokenType          string `json:"token_type"`
		IssuedTokenType    string `json:"issued_token_type"`
		Scope              string `json:"scope"`
		ExpiresIn          int64  `json:"expires_in"`
		TxnToken           string `json:"txn_token"`
		TxnTokenType       string `json:"txn_token_type"`
		TxnIssuedTokenType string `json:"txn_issued_token_type"`
		Refusal            *struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
			Status           int    `json:"status"`
		} `json:"refusal"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if rep.TokenType != "bearer" || rep.IssuedTokenType != wire.TokenTypeAccessToken || rep.Scope != "trade:read" || rep.ExpiresIn <= 0 {
		t.Fatalf("exchange as oauth4webapi read it: %s", out)
	}
	c := tokenClaims(t, rep.AccessToken)
	if c.Subject != alice || c.Act == nil || c.Act.ClientID != "mt5-api" || !c.Audience.Contains(riskAud) {
		t.Fatalf("exchanged claims %+v", c)
	}
	// The exchanged token works at a service behind the guard.
	g, err := guard.New(ctx, guard.Config{Issuer: w.ts.URL, Audience: riskAud, TrustDomain: trustDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Verify(ctx, rep.AccessToken); err != nil {
		t.Fatalf("the guard refuses the exchanged token: %v", err)
	}
	if rep.TxnTokenType != "n_a" || rep.TxnIssuedTokenType != wire.TokenTypeTxnToken {
		t.Fatalf("transaction token response %s", out)
	}
	if txn, err := g.VerifyTxnToken(ctx, rep.TxnToken); err != nil || txn.Subject != alice || string(txn.TransactionContext) != `{"symbol":"EURUSD"}` {
		t.Fatalf("transaction token %+v: %v", txn, err)
	}
	if rep.Refusal == nil || rep.Refusal.Error != wire.ErrInvalidScope || rep.Refusal.Status != 400 {
		t.Fatalf("refusal %s", out)
	}
}

// TestBenchExchangeScenario runs `permiso bench`'s exchange scenario against
// a real server: every request is a token exchange that succeeds, and the
// run is compared with the reference handler's minimal exchange.
func TestBenchExchangeScenario(t *testing.T) {
	ts := newTestServer(t, nil)
	rep, err := bench.Run(context.Background(), bench.Config{Target: ts.URL, AdminClientID: ts.AdminID, AdminClientSecret: ts.Secret,
		// Slices of a second: on a machine loaded twenty times over its
		// cores, a 200 ms slice of the reference once completed no request
		// (1 run in 20), leaving no ratio.
		Scenarios: []string{bench.ScenarioExchange}, Connections: 2, Warmup: 100 * time.Millisecond, Duration: 2 * time.Second,
		Rounds: 2, Reference: true, ReferenceMode: bench.ReferenceInProcess})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Scenarios[0]
	if s.Status != bench.StatusOK || s.Permiso == nil || s.Permiso.OK == 0 || s.Permiso.ErrorCount != 0 {
		t.Fatalf("exchange scenario: %+v %+v", s, s.Permiso)
	}
	if s.Reference == nil || s.Reference.OK == 0 || s.Reference.ErrorCount != 0 || s.Ratio == nil || *s.Ratio <= 0 {
		t.Fatalf("no ratio to the reference: %+v %+v", s, s.Reference)
	}
}
