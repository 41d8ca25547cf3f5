package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/webhook"
)

func TestClientsRateLimitCommand(t *testing.T) {
	newCLIServer(t)
	r := runCLI(t, runClients, "create", "--name", "Limited", "--id", "limited", "--scopes", "market:data").ok(t)
	secret := field(r.Stdout, "client_secret")
	runCLI(t, runClients, "rate-limit", "limited").ok(t, "per minute  60     60", "per hour    1000   1000", "now")
	for range 3 {
		runCLI(t, runToken(nil), "--client-id", "limited", "--client-secret", secret).ok(t)
	}
	runCLI(t, runClients, "rate-limit", "limited").ok(t, "per minute  60     57    in ", "per hour    1000   997   in ")
	runCLI(t, runClients, "rate-limit", "limited", "--json").ok(t, `"per_minute_remaining": 57`, `"is_rate_limited": false`)
	runCLI(t, runClients, "rate-limit", "ghost").fails(t, "not_found: ")
}

// TestClientsWebhookCommands: a client with a webhook URL gets a webhook
// secret once; test-webhook sends a call the receiver can verify with it;
// after rotate-webhook-secret only the new secret verifies. The receiver
// is on loopback, which the server refuses (--outbound-allow is not set
// here), so the first part checks the refusal and the rest runs against a
// server that allows loopback.
func TestClientsWebhookCommands(t *testing.T) {
	var mu sync.Mutex
	secret := ""
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		s := secret
		mu.Unlock()
		if err := webhook.Verify(s, r.Header.Get(webhook.HeaderTimestamp), r.Header.Get(webhook.HeaderSignature), b, time.Now(), time.Minute); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var body struct{ Data map[string]any }
		json.Unmarshal(b, &body)
		if body.Data["ping"] != "pong" {
			http.Error(w, "no payload", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)

	newCLIServer(t) // without --outbound-allow
	runCLI(t, runClients, "create", "--name", "Hooked", "--webhook-url", rc.URL+"/hook").fails(t, "validation_error: ", "internal and not allowed")

	newCLIServerWith(t, loopbackAllowed)
	r := runCLI(t, runClients, "create", "--name", "Hooked", "--id", "hooked", "--webhook-url", rc.URL+"/hook").ok(t, "webhook_secret: pmw_")
	mu.Lock()
	secret = field(r.Stdout, "webhook_secret")
	mu.Unlock()
	runCLI(t, runClients, "get", "hooked").ok(t, rc.URL+"/hook")
	runCLI(t, runClients, "test-webhook", "hooked", "--payload", `{"ping":"pong"}`).ok(t, "HTTP 204 in ")
	runCLI(t, runClients, "test-webhook", "hooked").fails(t, "the webhook did not accept the call", "Bad Request")
	runCLI(t, runClients, "test-webhook", "hooked", "--payload", "{nope").fails(t, "not valid JSON")

	rot := runCLI(t, runClients, "rotate-webhook-secret", "hooked").ok(t, "webhook_secret: pmw_")
	runCLI(t, runClients, "test-webhook", "hooked", "--payload", `{"ping":"pong"}`).fails(t, "Unauthorized")
	mu.Lock()
	secret = field(rot.Stdout, "webhook_secret")
	mu.Unlock()
	runCLI(t, runClients, "test-webhook", "hooked", "--payload", `{"ping":"pong"}`, "--json").ok(t, `"success": true`, `"status_code": 204`)

	// A client without a webhook, then its first webhook_url through update.
	runCLI(t, runClients, "create", "--name", "Later", "--id", "later").ok(t)
	runCLI(t, runClients, "test-webhook", "later").fails(t, "no_webhook: ")
	up := runCLI(t, runClients, "update", "later", "--webhook-url", rc.URL+"/later").ok(t, "webhook_secret: pmw_", "webhook_url")
	if !strings.Contains(up.Stderr, "not shown again") {
		t.Errorf("no warning: %q", up.Stderr)
	}
	runCLI(t, runClients, "rotate-webhook-secret", "later", "--env").ok(t, "WEBHOOK_SECRET='pmw_")
}
