package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/ratelimit"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/internal/webhook"
)

// RateLimits reports a client's token budgets without spending them;
// *ratelimit.Limiter implements it.
type RateLimits interface {
	TokenUsage(ctx context.Context, c *store.Client) ratelimit.TokenUsage
}

// The original's rate-limit and webhook-test endpoints, real this time: the
// budgets are the limiter's own state, and the test delivers a signed call.
func (a *API) mountClientWebhooks(mux *http.ServeMux, base string) {
	a.handle(mux, "GET "+base+"/{client_id}/rate-limit", a.clientRateLimit)
	a.handle(mux, "POST "+base+"/{client_id}/webhook/test", a.testWebhook)
	a.handle(mux, "POST "+base+"/{client_id}/webhook/rotate-secret", a.rotateWebhookSecret)
}

func (a *API) clientRateLimit(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	now := a.cfg.Now().UTC()
	u := ratelimit.TokenUsage{
		PerMinute: ratelimit.Usage{Limit: c.RateLimitPerMinute, Remaining: c.RateLimitPerMinute, Reset: now},
		PerHour:   ratelimit.Usage{Limit: c.RateLimitPerHour, Remaining: c.RateLimitPerHour, Reset: now},
	}
	if a.cfg.RateLimits != nil {
		u = a.cfg.RateLimits.TokenUsage(r.Context(), &c)
	}
	limit := func(u ratelimit.Usage) (*int, *int) {
		if u.Limit <= 0 {
			return nil, nil
		}
		return &u.Limit, &u.Remaining
	}
	out := apitype.RateLimitStatus{ClientID: c.ClientID, PerMinuteReset: u.PerMinute.Reset, PerHourReset: u.PerHour.Reset, IsRateLimited: u.Limited}
	out.PerMinuteLimit, out.PerMinuteRemaining = limit(u.PerMinute)
	out.PerHourLimit, out.PerHourRemaining = limit(u.PerHour)
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
		return err
	}
	var in apitype.WebhookTest
	if r.ContentLength != 0 {
		if err := web.DecodeJSON(w, r, &in); err != nil {
			return err
		}
	}
	if p := bytes.TrimSpace(in.TestPayload); len(p) > 0 && p[0] != '{' && !bytes.Equal(p, []byte("null")) {
		return web.Invalid("test_payload must be a JSON object")
	}
	timeout := 5 * time.Second
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 1 || *in.TimeoutSeconds > 120 {
			return web.Invalid("timeout_seconds must be between 1 and 120")
		}
		timeout = min(time.Duration(*in.TimeoutSeconds)*time.Second, webhook.MaxTimeout)
	}
	if c.WebhookURL == "" {
		return web.Errorf(http.StatusBadRequest, "no_webhook", "This client has no webhook_url")
	}
	if a.cfg.Webhooks == nil {
		return web.Unavailable(errors.New("webhooks are not configured"))
	}
	secret, err := a.webhookSecret(r.Context(), c)
	if err != nil {
		return err
	}
	id := deliveryID()
	data := in.TestPayload
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		data = json.RawMessage(`{}`)
	}
	body, err := json.Marshal(map[string]any{"event": "webhook.test", "delivery_id": id, "client_id": c.ClientID,
		"created_at": a.cfg.Now().UTC().Format(time.RFC3339), "data": data})
	if err != nil {
		return web.Invalid("test_payload could not be encoded")
	}
	res := a.cfg.Webhooks.Send(r.Context(), webhook.Delivery{URL: c.WebhookURL, Secret: secret, Event: "webhook.test",
		ID: id, Body: body, Timeout: timeout})
	secs := timeout.Seconds()
	out := apitype.WebhookTestResult{ResponseTimeMS: math.Round(float64(res.Duration.Microseconds())/100) / 10, DeliveryID: id, TimeoutSeconds: &secs}
	details := map[string]any{"delivery_id": id, "response_time_ms": out.ResponseTimeMS}
	switch {
	case res.Err != nil:
		msg := outbound.Describe(res.Err)
		out.ErrorMessage = &msg
		details["error"] = msg
		a.cfg.Logger.InfoContext(r.Context(), "webhook test failed", "client_id", c.ClientID, "err", res.Err)
	default:
		out.StatusCode = &res.StatusCode
		out.Success = res.StatusCode >= 200 && res.StatusCode < 300
		details["status_code"] = res.StatusCode
		if !out.Success {
			msg := "the webhook answered HTTP " + http.StatusText(res.StatusCode)
			if http.StatusText(res.StatusCode) == "" {
				msg = "the webhook answered an unknown HTTP status"
			}
			out.ErrorMessage = &msg
		}
	}
	outcome := audit.Success
	if !out.Success {
		outcome = audit.Failure
	}
	a.record(r.Context(), a.event(r, caller, "client.webhook_tested", outcome, c.ClientID, details))
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

// webhookSecret opens the client's stored webhook secret.
func (a *API) webhookSecret(ctx context.Context, c store.Client) (string, error) {
	sealed, _, err := a.cfg.Store.GetWebhookSecret(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "", web.Errorf(http.StatusBadRequest, "no_webhook_secret",
			"This client has no webhook secret yet: create one with POST .../webhook/rotate-secret (it is shown once)")
	}
	if err != nil {
		return "", web.Unavailable(err)
	}
	secret, err := a.cfg.Webhooks.Open(c.ID, sealed)
	if err != nil {
		a.cfg.Logger.ErrorContext(ctx, "webhook secret unusable", "client_id", c.ClientID, "err", err)
		return "", web.Errorf(http.StatusConflict, "webhook_secret_unusable",
			"This client's webhook secret cannot be used (was the master key changed?); rotate it")
	}
	return secret, nil
}

// rotateWebhookSecret creates or replaces the client's webhook secret and
// shows it this once. The previous one stops signing at once.
func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	if err := a.mayActOn(r, caller, clientPrincipal(c)); err != nil {
		return err
	}
	if a.cfg.Webhooks == nil {
		return web.Unavailable(errors.New("webhooks are not configured"))
	}
	secret, err := a.newWebhookSecret(r.Context(), c)
	if err != nil {
		return err
	}
	a.record(r.Context(), a.event(r, caller, "client.webhook_secret_rotated", audit.Success, c.ClientID, nil))
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, apitype.WebhookSecretRotated{Message: "Webhook secret rotated successfully",
		ClientID: c.ClientID, WebhookSecret: secret})
	return nil
}

func (a *API) newWebhookSecret(ctx context.Context, c store.Client) (string, error) {
	secret, sealed := a.cfg.Webhooks.NewSecret(c.ID)
	if err := a.cfg.Store.SetWebhookSecret(ctx, c.ID, sealed, a.cfg.Now()); err != nil {
		return "", storeErr(err, clientNotFound, "")
	}
	return secret, nil
}

// ensureWebhookSecret gives a client that has a webhook_url and no secret
// its first one, returned to be shown once; nil when nothing was created.
func (a *API) ensureWebhookSecret(ctx context.Context, c store.Client) (*string, error) {
	if c.WebhookURL == "" || a.cfg.Webhooks == nil {
		return nil, nil
	}
	if _, _, err := a.cfg.Store.GetWebhookSecret(ctx, c.ID); err == nil {
		return nil, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, web.Unavailable(err)
	}
	s, err := a.newWebhookSecret(ctx, c)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// checkWebhookURL refuses, at configuration time, a webhook_url whose
// literal address outbound calls would refuse anyway.
func (a *API) checkWebhookURL(c *store.Client, problems *web.Fields) {
	if c.WebhookURL == "" || a.cfg.Webhooks == nil {
		return
	}
	if err := a.cfg.Webhooks.CheckURL(c.WebhookURL); errors.Is(err, outbound.ErrBlocked) {
		problems.Addf("webhook_url: %s (an operator may allow it with --outbound-allow)", outbound.Describe(err))
	}
}

func deliveryID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
