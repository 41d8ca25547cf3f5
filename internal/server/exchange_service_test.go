package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/guard"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// service is a real guarded service of the exchange tests: sdk/guard in
// front of a handler that answers with what the request context says
// about the call (subject, actors, transaction), following the
// revocation feed every second.
type service struct {
	t   *testing.T
	g   *guard.Guard
	url string
}

// seen is what a service's handler saw of a call.
type seen struct {
	Subject string   `json:"sub"`
	Client  string   `json:"client_id"`
	Actors  []string `json:"actors"`
	Scopes  []string `json:"scopes"`
	Txn     string   `json:"txn"`
	TxnSub  string   `json:"txn_sub"`
}

// service starts a service for aud that requires reqs of every call.
func (w *world) service(t *testing.T, aud string, reqs ...guard.Requirement) *service {
	t.Helper()
	g, err := guard.New(context.Background(), guard.Config{Issuer: w.ts.URL, Audience: aud,
		TrustDomain: trustDomain, RevocationPoll: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	srv := httptest.NewServer(g.Require(reqs...)(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s := seen{Subject: guard.Subject(ctx), Client: guard.ClientID(ctx), Actors: []string{}, Scopes: guard.Scopes(ctx)}
		for _, a := range guard.Actors(ctx) {
			s.Actors = append(s.Actors, a.ClientID)
		}
		if txn, ok := guard.TxnToken(ctx); ok {
			s.Txn, s.TxnSub = txn.Txn, txn.Subject
		}
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(s)
	})))
	t.Cleanup(srv.Close)
	waitUntil(t, 10*time.Second, "guard ready", g.Ready)
	return &service{t: t, g: g, url: srv.URL}
}

// call sends a request with token as bearer token and, when not empty,
// txn in the Txn-Token header; it returns the status and, for a 200, what
// the handler saw (for a refusal, the OAuth error code).
func (s *service) call(token, txn string) (int, seen, string) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/api/v1/check", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if txn != "" {
		req.Header.Set(wire.HeaderTxnToken, txn)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	var out seen
	var e struct {
		Error string `json:"error"`
	}
	if res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &out); err != nil {
			s.t.Fatalf("service answered %s", b)
		}
	} else {
		json.Unmarshal(b, &e)
	}
	return res.StatusCode, out, e.Error
}
