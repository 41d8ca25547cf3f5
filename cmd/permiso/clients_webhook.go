package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func clientsRateLimit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients rate-limit", "CLIENT_ID [options]",
		"Shows the client's token budgets as the server enforces them: the limit per minute and per hour,\n"+
			"how many tokens still fit now, and when each budget is whole again.", stderr)
	conn := addConnFlags(fs)
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	path := clientsPath + "/" + url.PathEscape(pos[0]) + "/rate-limit"
	return callPrint(ctx, conn, api, stdout, "GET", path, nil, func(out apitype.RateLimitStatus) error {
		if err := writeTable(stdout, []string{"BUDGET", "LIMIT", "LEFT", "WHOLE_AGAIN"}, [][]string{
			budgetRow("per minute", out.PerMinuteLimit, out.PerMinuteRemaining, out.PerMinuteReset),
			budgetRow("per hour", out.PerHourLimit, out.PerHourRemaining, out.PerHourReset),
		}); err != nil {
			return err
		}
		if out.IsRateLimited {
			fmt.Fprintf(stdout, "%s is rate limited: its next token request is refused (429)\n", pos[0])
		}
		return nil
	})
}

// budgetRow shows one rate-limit budget; a nil limit is no budget at all.
func budgetRow(name string, limit, left *int, reset time.Time) []string {
	if limit == nil {
		return []string{name, "none", "-", "-"}
	}
	whole := "now"
	if d := time.Until(reset); d > 0 {
		whole = "in " + humanDuration(d)
	}
	return []string{name, strconv.Itoa(*limit), strconv.Itoa(*left), whole}
}

func clientsTestWebhook(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients test-webhook", "CLIENT_ID [options]",
		"Sends a signed webhook.test call to the client's webhook_url and shows the answer's status and time\n"+
			"(never its body). The call obeys the outbound limits: internal addresses are refused unless the\n"+
			"server allows them (--outbound-allow), redirects are not followed, and it is cut after --timeout.", stderr)
	conn := addConnFlags(fs)
	payload := fs.String("payload", "", "JSON object sent as the call's data (default {})")
	timeout := fs.Duration("timeout", 5*time.Second, "time limit of the call (the server caps it at 10s)")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *timeout < time.Second || *timeout%time.Second != 0 {
		return errors.New("--timeout must be a whole number of seconds, at least 1s")
	}
	seconds := int(*timeout / time.Second)
	body := apitype.WebhookTest{TimeoutSeconds: &seconds}
	if *payload != "" {
		if !json.Valid([]byte(*payload)) {
			return errors.New("--payload is not valid JSON")
		}
		body.TestPayload = json.RawMessage(*payload)
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	var out apitype.WebhookTestResult
	raw, err := api.callInto(ctx, "POST", clientsPath+"/"+url.PathEscape(pos[0])+"/webhook/test", body, &out)
	if err != nil {
		return err
	}
	if conn.json {
		if err := writeJSON(stdout, raw); err != nil {
			return err
		}
	} else {
		switch {
		case out.StatusCode != nil:
			fmt.Fprintf(stdout, "HTTP %d in %.1f ms (delivery %s)\n", *out.StatusCode, out.ResponseTimeMS, out.DeliveryID)
		default:
			fmt.Fprintf(stdout, "no answer after %.1f ms (delivery %s)\n", out.ResponseTimeMS, out.DeliveryID)
		}
	}
	if !out.Success {
		msg := "the webhook did not accept the call"
		if out.ErrorMessage != nil {
			msg += ": " + *out.ErrorMessage
		}
		return errors.New(msg)
	}
	return nil
}

func clientsRotateWebhookSecret(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients rotate-webhook-secret", "CLIENT_ID [options]",
		"Creates or replaces the secret the client's webhook calls are signed with (HMAC-SHA256 over\n"+
			"\"<timestamp>.<body>\", header X-Permiso-Signature). It is shown once; the previous one stops signing at once.", stderr)
	conn := addConnFlags(fs)
	env := fs.Bool("env", false, "print the shell assignment WEBHOOK_SECRET=..., for eval")
	api, pos, err := conn.open(ctx, fs, args, 1, stderr)
	if err != nil {
		return err
	}
	path := clientsPath + "/" + url.PathEscape(pos[0]) + "/webhook/rotate-secret"
	return callPrint(ctx, conn, api, stdout, "POST", path, nil, func(out apitype.WebhookSecretRotated) error {
		if *env {
			fmt.Fprintf(stdout, "WEBHOOK_SECRET=%s\n", shellQuote(out.WebhookSecret))
		} else {
			fmt.Fprintf(stdout, "client_id:      %s\nwebhook_secret: %s\n", pos[0], out.WebhookSecret)
		}
		fmt.Fprintln(stderr, "Store the webhook secret now: it is not shown again.")
		return nil
	})
}
