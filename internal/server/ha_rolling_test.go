package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store/sqlstore/sqltest"
)

// balancer is the client side of a load balancer: round robin over the
// replicas, and a request that fails on one (connection error or 503) is
// retried on the next, as a proxy with passive health checks or the SDK's
// retry would.
type balancer struct {
	urls   []string
	next   atomic.Uint64
	client *http.Client
}

func (b *balancer) token(body string) error {
	var last error
	start := int(b.next.Add(1))
	for attempt := range 6 {
		u := b.urls[(start+attempt)%len(b.urls)] // a retry goes to the next replica
		res, err := b.client.Post(u+"/oauth2/token", "application/x-www-form-urlencoded", strings.NewReader(body))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
			err = fmt.Errorf("%s: %s", u, res.Status)
			if res.StatusCode != http.StatusServiceUnavailable {
				return err // an answer, not an outage: do not retry
			}
		}
		last = err
		time.Sleep(time.Duration(attempt*10) * time.Millisecond) // the balancer's retry backoff
	}
	return last
}

// TestHARollingRestart restarts one of two replicas on PostgreSQL while a
// load-balancing client issues tokens: no request is lost.
func TestHARollingRestart(t *testing.T) {
	dsn := sqltest.PostgresURL(t)
	dir := filepath.Join(t.TempDir(), "data")
	cfgA, cfgB := replicaConfig(t, dir), replicaConfig(t, dir)
	cfgA.DatabaseURL, cfgB.DatabaseURL = dsn, dsn
	cfgB.Issuer = cfgA.Issuer
	a := startReplica(t, cfgA)
	b := startReplica(t, cfgB)
	id, secret := a.ts().createClient(map[string]any{"name": "Rolling", "scope_ids": []string{"trade:read"},
		"rate_limit_per_minute": 1_000_000, "rate_limit_per_hour": 60_000_000})
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}.Encode()
	lb := &balancer{urls: []string{a.URL, b.URL}, client: &http.Client{Timeout: 5 * time.Second}}

	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		ok, lost atomic.Int64
		mu       sync.Mutex
		errs     []string
	)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				if err := lb.token(body); err != nil {
					lost.Add(1)
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		})
	}
	// Load before, while and after B is away: each phase issues tokens.
	progress := func(what string) {
		from := ok.Load()
		waitUntil(t, 15*time.Second, what, func() bool { return ok.Load() >= from+20 || lost.Load() > 0 })
	}
	progress("tokens issued before the restart")
	b.stop() // SIGTERM equivalent: drain and exit
	progress("tokens issued while B is stopped")
	b2 := startReplica(t, cfgB) // the new version on the same address
	waitUntil(t, 15*time.Second, "restarted replica serves tokens", func() bool {
		r := b2.ts().form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
		return r.Status == 200
	})
	progress("tokens issued after the restart")
	stop.Store(true)
	wg.Wait()
	t.Logf("%d tokens issued across the restart, %d requests lost", ok.Load(), lost.Load())
	if lost.Load() > 0 {
		t.Fatalf("%d requests lost during the rolling restart: %v", lost.Load(), errs)
	}
	if ok.Load() < 50 {
		t.Fatalf("only %d tokens issued: the load did not run", ok.Load())
	}
}
