package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// chain is a trader's token and what was derived from it: mt5-api's token
// for risk, risk's for the ledger, and a transaction token.
type chain struct {
	login            map[string]any
	root, hop1, hop2 string
	txn              string
}

func (w *world) chain(t *testing.T, username string) chain {
	t.Helper()
	login := w.userToken("dashboard", username)
	root := login["access_token"].(string)
	hop1, _ := w.exchangeOK("mt5-api", root, url.Values{"audience": {riskAud}})
	hop2, _ := w.exchangeOK("risk", hop1, url.Values{"audience": {ledgerAud}})
	r := w.exchange("mt5-api", url.Values{"subject_token": {root}, "requested_token_type": {wire.TokenTypeTxnToken},
		"scope": {"trade:open"}})
	status(t, r, http.StatusOK)
	return chain{login: login, root: root, hop1: hop1, hop2: hop2, txn: r.str("access_token")}
}

// guards are the services of the chain, following the revocation feed:
// risk, called by mt5-api for the trader with the transaction token, and
// the ledger, called by risk.
type guards struct{ risk, ledger *service }

func (w *world) guards(t *testing.T) guards {
	t.Helper()
	return guards{
		risk:   w.service(t, riskAud, guard.ActingForUser(), guard.ActedBy("mt5-api"), guard.NoImpersonation(), guard.WithTxnToken()),
		ledger: w.service(t, ledgerAud, guard.ActingForUser(), guard.ActedBy("risk")),
	}
}

// refusedEverywhere waits until introspection and both services refuse
// every token derived in c (the feed's delay).
func (gs guards) refusedEverywhere(t *testing.T, w *world, c chain) {
	t.Helper()
	for _, tok := range []string{c.hop1, c.hop2} {
		if w.active(tok) {
			t.Fatal("a derived token is still active at introspection")
		}
	}
	took := waitUntil(t, 15*time.Second, "the services refuse the derived tokens", func() bool {
		s1, _, e1 := gs.risk.call(c.hop1, c.txn)
		s2, _, e2 := gs.ledger.call(c.hop2, "")
		_, e3 := gs.risk.g.VerifyTxnToken(context.Background(), c.txn)
		return s1 == http.StatusUnauthorized && e1 == wire.ErrInvalidToken &&
			s2 == http.StatusUnauthorized && e2 == wire.ErrInvalidToken && errors.Is(e3, guard.ErrInvalidToken)
	})
	t.Logf("the services refused the chain %v after the revocation", took.Round(10*time.Millisecond))
}

// acceptedEverywhere checks that introspection and the services accept c:
// risk sees the trader acted for by mt5-api, the ledger the whole chain.
func (gs guards) acceptedEverywhere(t *testing.T, w *world, c chain) {
	t.Helper()
	if !w.active(c.hop1) || !w.active(c.hop2) {
		t.Fatal("derived tokens inactive before any revocation")
	}
	sub := tokenClaims(t, c.root).Subject
	st, s, e := gs.risk.call(c.hop1, c.txn)
	if st != http.StatusOK || s.Subject != sub || !slices.Equal(s.Actors, []string{"mt5-api"}) || s.Txn == "" || s.TxnSub != sub {
		t.Fatalf("risk: %d %s %+v", st, e, s)
	}
	st, s, e = gs.ledger.call(c.hop2, "")
	if st != http.StatusOK || s.Subject != sub || !slices.Equal(s.Actors, []string{"risk", "mt5-api"}) {
		t.Fatalf("ledger: %d %s %+v", st, e, s)
	}
}

// TestExchangeRevocationFollowsDerivation: revoking the root token, its
// refresh-token family or the user's session ends every token derived from
// it, at introspection and at guards that follow the revocation feed.
func TestExchangeRevocationFollowsDerivation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.ts.createUser("dora", "trader")
	gs := w.guards(t)

	t.Run("revoking the root token", func(t *testing.T) {
		c := w.chain(t, "dora")
		gs.acceptedEverywhere(t, w, c)
		r := w.ts.form("/oauth2/revoke", url.Values{"token": {c.root}}, "dashboard", w.secrets["dashboard"])
		status(t, r, http.StatusOK)
		gs.refusedEverywhere(t, w, c)
		feed := w.ts.do("GET", "/oauth2/revocations", nil, nil)
		var f wire.RevocationFeed
		if err := json.Unmarshal(feed.Body, &f); err != nil {
			t.Fatal(err)
		}
		root := tokenClaims(t, c.root).ID
		if !slices.ContainsFunc(f.Entries, func(e wire.RevocationEntry) bool { return e.Kind == wire.RevokeRoot && e.Value == root }) {
			t.Fatalf("feed lacks the root_jti entry: %s", feed.Body)
		}
	})

	t.Run("ending the session", func(t *testing.T) {
		c := w.chain(t, "dora")
		gs.acceptedEverywhere(t, w, c)
		// dora ends the dashboard's session from another sign-in (a token
		// for Permiso's own API).
		own := w.ts.loginOK("dora").Access
		r := w.ts.jsonReq("DELETE", "/api/v1/sessions/"+tokenClaims(t, c.root).SessionID, own, nil)
		status(t, r, http.StatusOK)
		gs.refusedEverywhere(t, w, c)
	})

	t.Run("revoking the refresh-token family", func(t *testing.T) {
		c := w.chain(t, "dora")
		gs.acceptedEverywhere(t, w, c)
		r := w.ts.form("/oauth2/revoke", url.Values{"token": {c.login["refresh_token"].(string)}}, "dashboard", w.secrets["dashboard"])
		status(t, r, http.StatusOK)
		gs.refusedEverywhere(t, w, c)
		if w.active(c.root) {
			t.Fatal("the access token of the revoked family's grant is still active (RFC 7009 §2.1)")
		}
	})

	t.Run("revoking a derived token revokes it alone", func(t *testing.T) {
		c := w.chain(t, "dora")
		sibling, _ := w.exchangeOK("mt5-api", c.root, url.Values{"audience": {riskAud}, "scope": {"trade:read"}})
		r := w.ts.form("/oauth2/revoke", url.Values{"token": {c.hop1}}, "mt5-api", w.secrets["mt5-api"])
		status(t, r, http.StatusOK)
		if w.active(c.hop1) || !w.active(sibling) || !w.active(c.root) {
			t.Fatal("revoking one derived token must not revoke its root or siblings")
		}
	})
}
