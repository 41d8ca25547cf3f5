package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/server"
	"github.com/permiso-auth/permiso/internal/webhook"
)

// receiver is a webhook endpoint that checks signatures with the secret
// it was given, like a real one, and answers with a body that must never
// reach the person testing the webhook.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	status int
	slow   bool
	got    []delivered
}

type delivered struct {
	header http.Header
	body   map[string]any
	err    error // of signature verification
}

const receiverAnswer = "INTERNAL-ANSWER-NEVER-RELAYED"

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{status: http.StatusOK}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		secret, status, slow := rc.secret, rc.status, rc.slow
		d := delivered{header: r.Header.Clone(),
			err: webhook.Verify(secret, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), raw, time.Now(), 5*time.Minute)}
		json.Unmarshal(raw, &d.body)
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		if slow {
			<-r.Context().Done()
			return
		}
		if d.err != nil {
			http.Error(w, "bad signature "+receiverAnswer, http.StatusUnauthorized)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, receiverAnswer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) set(f func(*receiver)) { rc.mu.Lock(); f(rc); rc.mu.Unlock() }

func (rc *receiver) last(t *testing.T) delivered {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return rc.got[len(rc.got)-1]
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.got) }

func TestWebhookTest(t *testing.T) {
	ts := newTestServer(t, func(c *server.Config) { c.OutboundAllow = outbound.Loopback })
	admin := ts.adminToken()
	rc := newReceiver(t)

	r := ts.jsonReq("POST", "/api/v1/service-clients", admin, map[string]any{"name": "Hooked", "client_id": "hooked",
		"webhook_url": rc.URL + "/permiso"})
	status(t, r, 201)
	secret := r.str("webhook_secret")
	if !strings.HasPrefix(secret, webhook.SecretPrefix) || r.str("client_secret") == "" {
		t.Fatalf("create with a webhook_url: %s", r.Body)
	}
	rc.set(func(rc *receiver) { rc.secret = secret })
	test := func(body any) *response {
		t.Helper()
		return ts.jsonReq("POST", "/api/v1/service-clients/hooked/webhook/test", admin, body)
	}

	t.Run("a signed delivery", func(t *testing.T) {
		r := test(map[string]any{"test_payload": map[string]any{"hello": "world"}, "timeout_seconds": 30})
		status(t, r, 200)
		if r.JSON["success"] != true || r.JSON["status_code"] != float64(200) || r.JSON["response_body"] != nil ||
			r.JSON["error_message"] != nil || r.JSON["timeout_seconds"] != float64(10) {
			t.Fatalf("answer %s", r.Body)
		}
		if ms, _ := r.JSON["response_time_ms"].(float64); ms <= 0 {
			t.Errorf("response_time_ms %v", r.JSON["response_time_ms"])
		}
		if strings.Contains(string(r.Body), receiverAnswer) {
			t.Fatal("the receiver's answer was relayed")
		}
		d := rc.last(t)
		data, _ := d.body["data"].(map[string]any)
		if d.err != nil || d.header.Get(webhook.HeaderEvent) != "webhook.test" || d.body["client_id"] != "hooked" ||
			data["hello"] != "world" || d.body["delivery_id"] != r.JSON["delivery_id"] || d.header.Get(webhook.HeaderDelivery) != r.str("delivery_id") {
			t.Fatalf("delivered %v %v (signature: %v)", d.header, d.body, d.err)
		}
	})
	t.Run("an empty body is the original's defaults", func(t *testing.T) {
		r := ts.do("POST", "/api/v1/service-clients/hooked/webhook/test", http.Header{"Authorization": {"Bearer " + admin}}, nil)
		status(t, r, 200)
		if r.JSON["success"] != true || r.JSON["timeout_seconds"] != float64(5) {
			t.Fatalf("answer %s", r.Body)
		}
	})
	t.Run("a failing receiver", func(t *testing.T) {
		rc.set(func(rc *receiver) { rc.status = http.StatusServiceUnavailable })
		defer rc.set(func(rc *receiver) { rc.status = http.StatusOK })
		r := test(map[string]any{})
		status(t, r, 200)
		if r.JSON["success"] != false || r.JSON["status_code"] != float64(503) || !strings.Contains(r.str("error_message"), "Service Unavailable") ||
			strings.Contains(string(r.Body), receiverAnswer) {
			t.Fatalf("answer %s", r.Body)
		}
		ev := ts.waitEvent("client.webhook_tested", "hooked")
		if ev["outcome"] != "failure" {
			t.Errorf("audit event %v", ev)
		}
	})
	t.Run("rotation: the old secret stops signing", func(t *testing.T) {
		r := ts.jsonReq("POST", "/api/v1/service-clients/hooked/webhook/rotate-secret", admin, nil)
		status(t, r, 200)
		second := r.str("webhook_secret")
		if !strings.HasPrefix(second, webhook.SecretPrefix) || second == secret {
			t.Fatalf("rotate: %s", r.Body)
		}
		r = test(nil)
		if r.JSON["success"] != false || r.JSON["status_code"] != float64(401) {
			t.Fatalf("receiver still on the old secret accepted: %s", r.Body)
		}
		rc.set(func(rc *receiver) { rc.secret = second })
		if r := test(nil); r.JSON["success"] != true {
			t.Fatalf("with the new secret: %s", r.Body)
		}
		ts.waitEvent("client.webhook_secret_rotated", "hooked")
	})
	t.Run("the time limit", func(t *testing.T) {
		rc.set(func(rc *receiver) { rc.slow = true })
		defer rc.set(func(rc *receiver) { rc.slow = false })
		r := test(map[string]any{"timeout_seconds": 1})
		status(t, r, 200)
		if r.JSON["success"] != false || r.JSON["status_code"] != nil || r.str("error_message") != "timed out" {
			t.Fatalf("answer %s", r.Body)
		}
		if ms, _ := r.JSON["response_time_ms"].(float64); ms < 900 || ms > 9000 {
			t.Errorf("response_time_ms %v for a 1 s limit", ms)
		}
	})
	t.Run("bad requests", func(t *testing.T) {
		for _, body := range []any{map[string]any{"timeout_seconds": 0}, map[string]any{"timeout_seconds": 121},
			map[string]any{"test_payload": []int{1}}, map[string]any{"url": "http://elsewhere"}} {
			status(t, test(body), 422)
		}
		ts.createClient(map[string]any{"name": "No hook", "client_id": "nohook"})
		r := ts.jsonReq("POST", "/api/v1/service-clients/nohook/webhook/test", admin, nil)
		if r.Status != 400 || r.str("error") != "no_webhook" {
			t.Fatalf("client without webhook: %d %s", r.Status, r.Body)
		}
		status(t, ts.jsonReq("POST", "/api/v1/service-clients/ghost/webhook/test", admin, nil), 404)
		reader, readerSecret := ts.createClient(map[string]any{"name": "Reader", "scope_ids": []string{"admin:roles"}})
		status(t, ts.jsonReq("POST", "/api/v1/service-clients/hooked/webhook/test", ts.token(reader, readerSecret, nil), nil), 403)
		status(t, ts.jsonReq("POST", "/api/v1/service-clients/hooked/webhook/test", "", nil), 401)
	})
	t.Run("the first webhook_url of an update brings a secret", func(t *testing.T) {
		r := ts.jsonReq("PUT", "/api/v1/service-clients/nohook", admin, map[string]any{"webhook_url": rc.URL + "/later"})
		status(t, r, 200)
		if !strings.HasPrefix(r.str("webhook_secret"), webhook.SecretPrefix) || r.str("client_id") != "nohook" {
			t.Fatalf("update: %s", r.Body)
		}
		r = ts.jsonReq("PUT", "/api/v1/service-clients/nohook", admin, map[string]any{"webhook_url": rc.URL + "/moved"})
		if _, ok := r.JSON["webhook_secret"]; ok || r.Status != 200 {
			t.Fatalf("a second update showed a secret: %s", r.Body)
		}
	})
}

// TestWebhookAddressLimits: without --outbound-allow, internal addresses
// are refused when the URL is saved (literal addresses) and when it is
// called (names that resolve to one), before any byte is sent.
func TestWebhookAddressLimits(t *testing.T) {
	ts := newTestServer(t, nil)
	admin := ts.adminToken()
	rc := newReceiver(t)
	for _, u := range []string{rc.URL, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/hook", "http://[::1]:8080/"} {
		r := ts.jsonReq("POST", "/api/v1/service-clients", admin, map[string]any{"name": "Internal", "webhook_url": u})
		if r.Status != 422 || !strings.Contains(r.str("error_description"), "internal and not allowed") {
			t.Errorf("webhook_url %s saved: %d %s", u, r.Status, r.Body)
		}
	}
	byName := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)
	r := ts.jsonReq("POST", "/api/v1/service-clients", admin, map[string]any{"name": "By name", "client_id": "byname", "webhook_url": byName})
	status(t, r, 201)
	r = ts.jsonReq("POST", "/api/v1/service-clients/byname/webhook/test", admin, nil)
	status(t, r, 200)
	if r.JSON["success"] != false || r.str("error_message") != "the address is internal and not allowed" || strings.Contains(string(r.Body), "127.0.0.1") {
		t.Fatalf("answer %s", r.Body)
	}
	if n := rc.count(); n != 0 {
		t.Fatalf("the receiver got %d deliveries", n)
	}
}

func TestRateLimitStatus(t *testing.T) {
	ts := newTestServer(t, nil)
	admin := ts.adminToken()
	id, secret := ts.createClient(map[string]any{"name": "Limited", "rate_limit_per_minute": 5, "rate_limit_per_hour": 100})
	get := func() *response {
		t.Helper()
		r := ts.jsonReq("GET", "/api/v1/service-clients/"+id+"/rate-limit", admin, nil)
		status(t, r, 200)
		return r
	}
	r := get()
	if r.str("client_id") != id || r.JSON["per_minute_limit"] != float64(5) || r.JSON["per_minute_remaining"] != float64(5) ||
		r.JSON["per_hour_limit"] != float64(100) || r.JSON["per_hour_remaining"] != float64(100) || r.JSON["is_rate_limited"] != false {
		t.Fatalf("fresh: %s", r.Body)
	}
	for range 5 {
		ts.token(id, secret, nil)
	}
	r = get()
	reset, err := time.Parse(time.RFC3339, r.str("per_minute_reset"))
	if r.JSON["per_minute_remaining"] != float64(0) || r.JSON["per_hour_remaining"] != float64(95) || r.JSON["is_rate_limited"] != true ||
		err != nil || time.Until(reset) < 30*time.Second || time.Until(reset) > 61*time.Second {
		t.Fatalf("after 5 tokens: %s", r.Body)
	}
	if tr := ts.form("/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret); tr.Status != http.StatusTooManyRequests {
		t.Errorf("the sixth token: %d (the report said limited)", tr.Status)
	}
	status(t, ts.jsonReq("GET", "/api/v1/admin/service-clients/"+id+"/rate-limit/", admin, nil), 200) // alias and slash
	status(t, ts.jsonReq("GET", "/api/v1/service-clients/ghost/rate-limit", admin, nil), 404)
	other, otherSecret := ts.createClient(map[string]any{"name": "Not an admin"})
	status(t, ts.jsonReq("GET", "/api/v1/service-clients/"+id+"/rate-limit", ts.token(other, otherSecret, nil), nil), 403)
}
