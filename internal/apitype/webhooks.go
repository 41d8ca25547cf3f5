package apitype

import (
	"encoding/json"
	"time"
)

// RateLimitStatus is GET /api/v1/service-clients/{client_id}/rate-limit,
// the original's shape: the client's token budgets, read without spending
// them; a limit of null means none.
type RateLimitStatus struct {
	ClientID           string    `json:"client_id"`
	PerMinuteLimit     *int      `json:"per_minute_limit"`
	PerMinuteRemaining *int      `json:"per_minute_remaining"`
	PerMinuteReset     time.Time `json:"per_minute_reset"`
	PerHourLimit       *int      `json:"per_hour_limit"`
	PerHourRemaining   *int      `json:"per_hour_remaining"`
	PerHourReset       time.Time `json:"per_hour_reset"`
	IsRateLimited      bool      `json:"is_rate_limited"`
}

// WebhookTest is the body of POST
// /api/v1/service-clients/{client_id}/webhook/test; both fields are
// optional.
type WebhookTest struct {
	TestPayload    json.RawMessage `json:"test_payload,omitempty"`
	TimeoutSeconds *int            `json:"timeout_seconds,omitempty"`
}

// WebhookTestResult is the original's answer to a webhook test.
// response_body is always null: what a receiver answers is never relayed
// (it could be anything an internal service says).
type WebhookTestResult struct {
	Success        bool     `json:"success"`
	StatusCode     *int     `json:"status_code"`
	ResponseTimeMS float64  `json:"response_time_ms"`
	ErrorMessage   *string  `json:"error_message"`
	ResponseBody   *string  `json:"response_body"`
	DeliveryID     string   `json:"delivery_id"`
	TimeoutSeconds *float64 `json:"timeout_seconds"`
}

// WebhookSecretRotated is the answer to POST
// /api/v1/service-clients/{client_id}/webhook/rotate-secret; the secret is
// shown this once.
type WebhookSecretRotated struct {
	Message       string `json:"message"`
	ClientID      string `json:"client_id"`
	WebhookSecret string `json:"webhook_secret"`
}
