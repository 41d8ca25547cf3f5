package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/permiso-auth/permiso/internal/apitype"
)

func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSubcommand(ctx, "clients", []subcommand{
		{"create", "create a service client and print its secret once", clientsCreate},
		{"list", "list service clients", clientsList},
		{"get", "show one service client", clientsGet},
		{"update", "change a service client", clientsUpdate},
		{"delete", "delete a service client", clientsDelete},
		{"rotate-secret", "issue a new secret; the old one works for a grace period", clientsRotateSecret},
		{"rate-limit", "show a client's token budgets: limits, what is left, when they refill", clientsRateLimit},
		{"test-webhook", "send a signed test call to the client's webhook_url and show status and time", clientsTestWebhook},
		{"rotate-webhook-secret", "create or replace the secret webhook calls are signed with", clientsRotateWebhookSecret},
	}, args, stdout, stderr)
}

const clientsPath = "/api/v1/service-clients"

// scopeList shows scopes by name.
func scopeList(s []apitype.ScopeBrief) string {
	names := make([]string, len(s))
	for i, sc := range s {
		names[i] = sc.Name
	}
	return orDash(strings.Join(names, ","))
}

// clientFlags are the flags create and update share; only the ones given
// are sent.
type clientFlags struct {
	name, description, scopes, audiences, grantTypes, redirectURIs, allowedIPs, webhookURL string
	exchange                                                                               string
	trusted, dpopBound, certBound                                                          bool
	lifetime                                                                               int
}

func addClientFlags(fs *flag.FlagSet) *clientFlags {
	f := &clientFlags{}
	fs.StringVar(&f.name, "name", "", "display name (2-100 characters)")
	fs.StringVar(&f.description, "description", "", "description")
	fs.StringVar(&f.scopes, "scopes", "", "scope names the client may request, separated by commas or spaces")
	fs.StringVar(&f.audiences, "audiences", "", "audience URIs, separated by commas or spaces; the first is the default aud")
	fs.StringVar(&f.grantTypes, "grant-types", "", "grant types, separated by commas or spaces (client_credentials, password, refresh_token, authorization_code, urn:ietf:params:oauth:grant-type:token-exchange)")
	fs.StringVar(&f.redirectURIs, "redirect-uris", "", "redirect URIs, separated by commas or spaces (for authorization_code)")
	fs.StringVar(&f.allowedIPs, "allowed-ips", "", "addresses or CIDRs allowed to get tokens, separated by commas or spaces (empty: any)")
	fs.StringVar(&f.webhookURL, "webhook-url", "", "URL that receives the client's signed webhook calls (the first one brings a webhook secret, shown once)")
	fs.BoolVar(&f.trusted, "trusted", false, "mark the client trusted (is_trusted claim)")
	fs.BoolVar(&f.dpopBound, "dpop-bound", false, "require a DPoP proof on every token request: all the client's tokens are DPoP-bound (RFC 9449)")
	fs.BoolVar(&f.certBound, "cert-bound", false, "bind the client's tokens to the TLS client certificate it calls with (RFC 8705 §3)")
	fs.IntVar(&f.lifetime, "lifetime", 0, "access token lifetime in seconds (300-86400; default 3600)")
	fs.StringVar(&f.exchange, "token-exchange", "", exchangeFlagHelp)
	return f
}

// body returns the fields for the flags that were given; the others stay
// absent.
func (f *clientFlags) body(fs *flag.FlagSet) (*apitype.ClientFields, error) {
	b := &apitype.ClientFields{}
	if isSet(fs, "token-exchange") {
		p, err := parseExchange(f.exchange)
		if err != nil {
			return nil, err
		}
		b.TokenExchange = p
	}
	list := func(s string) *[]string { l := splitList(s); return &l }
	for flagName, set := range map[string]func(){
		"name":          func() { b.Name = &f.name },
		"description":   func() { b.Description = &f.description },
		"scopes":        func() { b.ScopeIDs = list(f.scopes) },
		"audiences":     func() { b.Audiences = list(f.audiences) },
		"grant-types":   func() { b.GrantTypes = list(f.grantTypes) },
		"redirect-uris": func() { b.RedirectURIs = list(f.redirectURIs) },
		"allowed-ips":   func() { ips := apitype.IPList(splitList(f.allowedIPs)); b.AllowedIPs = &ips },
		"trusted":       func() { b.IsTrusted = &f.trusted },
		"lifetime":      func() { b.AccessTokenLifetime = &f.lifetime },
		"webhook-url":   func() { b.WebhookURL = &f.webhookURL },
		"dpop-bound":    func() { b.DPoPBoundAccessTokens = &f.dpopBound },
		"cert-bound":    func() { b.TLSClientCertificateBoundAccessTokens = &f.certBound },
	} {
		if isSet(fs, flagName) {
			set()
		}
	}
	return b, nil
}

func clientsCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients create", "--name NAME [options]",
		"Creates a service client and prints its client_id and secret. The secret is shown only once.", stderr)
	conn := addConnFlags(fs)
	cf := addClientFlags(fs)
	creds := addCredentialFlags(fs)
	// --client-id names the admin credentials, so the new client's id is --id.
	clientID := fs.String("id", "", "client_id of the new client ([A-Za-z0-9_-], default: a generated client_...)")
	clientType := fs.String("type", "confidential", "client type: confidential or public (public clients have no secret)")
	env := fs.Bool("env", false, "print shell assignments CLIENT_ID=... CLIENT_SECRET=..., for eval \"$(permiso clients create ... --env)\"")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if cf.name == "" {
		fs.Usage()
		return errors.New("--name is required")
	}
	body, err := cf.body(fs)
	if err != nil {
		return err
	}
	body.ClientType = clientType
	if *clientID != "" {
		body.ClientID = clientID
	}
	if err := creds.apply(fs, body, *clientID, stderr); err != nil {
		return err
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, "POST", clientsPath, body, func(out apitype.ClientCreated) error {
		if *env {
			fmt.Fprintf(stdout, "CLIENT_ID=%s\n", shellQuote(out.Client.ClientID))
			if out.ClientSecret != nil {
				fmt.Fprintf(stdout, "CLIENT_SECRET=%s\n", shellQuote(*out.ClientSecret))
			}
			if out.WebhookSecret != nil {
				fmt.Fprintf(stdout, "WEBHOOK_SECRET=%s\n", shellQuote(*out.WebhookSecret))
			}
			fmt.Fprintln(stderr, "The secret is shown only this once.")
			return nil
		}
		fmt.Fprintf(stdout, "client_id:     %s\n", out.Client.ClientID)
		if out.WebhookSecret != nil {
			fmt.Fprintf(stdout, "webhook_secret: %s\n", *out.WebhookSecret)
		}
		if out.ClientSecret == nil {
			why := "public client"
			if out.Client.ClientType != "public" {
				why = "authenticates with " + out.Client.TokenEndpointAuthMethod
			}
			fmt.Fprintf(stdout, "client_secret: (none: %s)\n", why)
			return nil
		}
		fmt.Fprintf(stdout, "client_secret: %s\n", *out.ClientSecret)
		fmt.Fprintln(stderr, "Store the secret now: it is not shown again.")
		return nil
	})
}

func clientsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return listing[apitype.Client]{things: "clients", path: clientsPath, key: "clients",
		searchHelp: "only clients whose name, client_id or description contains this",
		header:     []string{"CLIENT_ID", "NAME", "TYPE", "ACTIVE", "TRUSTED", "REQUESTS", "SCOPES"},
		row: func(c apitype.Client) []string {
			return []string{c.ClientID, c.Name, c.ClientType, strconv.FormatBool(c.IsActive), strconv.FormatBool(c.IsTrusted),
				strconv.FormatInt(c.TotalRequests, 10), scopeList(c.Scopes)}
		}}.run(ctx, args, stdout, stderr)
}

// printClient shows one client as a two-column table.
func printClient(w io.Writer, c apitype.Client) error {
	list := func(l []string) string { return orDash(strings.Join(l, ",")) }
	return writeTable(w, []string{"FIELD", "VALUE"}, [][]string{
		{"client_id", c.ClientID}, {"name", c.Name}, {"description", orDash(c.Description)},
		{"type", c.ClientType}, {"active", strconv.FormatBool(c.IsActive)}, {"trusted", strconv.FormatBool(c.IsTrusted)},
		{"scopes", scopeList(c.Scopes)}, {"audiences", list(c.Audiences)}, {"grant_types", list(c.GrantTypes)},
		{"redirect_uris", list(c.RedirectURIs)}, {"auth_method", c.TokenEndpointAuthMethod},
		{"access_token_lifetime", strconv.Itoa(c.AccessTokenLifetime) + "s"}, {"allowed_ips", list(c.AllowedIPs)},
		{"webhook_url", orDash(c.WebhookURL)},
		{"bound_tokens", boundTokens(c)}, {"token_exchange", exchangeSummary(c.TokenExchange)},
		{"total_requests", strconv.FormatInt(c.TotalRequests, 10)}, {"last_used", fmtTime(c.LastUsed)},
		{"created_at", fmtTime(&c.CreatedAt)},
	})
}

// boundTokens says how the client's tokens are bound (RFC 9449 §5.2,
// RFC 8705 §3.4).
func boundTokens(c apitype.Client) string {
	var b []string
	if c.DPoPBoundAccessTokens {
		b = append(b, "dpop")
	}
	if c.TLSClientCertificateBoundAccessTokens {
		b = append(b, "certificate")
	}
	return orDash(strings.Join(b, ","))
}

// clientCall runs one request about the client named by the single
// positional argument and prints the client it returns.
func clientCall(ctx context.Context, conn *connFlags, method, path string, body any, stdout, stderr io.Writer) error {
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	return callPrint(ctx, conn, api, stdout, method, path, body, func(c apitype.ClientChanged) error {
		if c.WebhookSecret != nil {
			fmt.Fprintf(stdout, "webhook_secret: %s\n", *c.WebhookSecret)
			fmt.Fprintln(stderr, "Store the webhook secret now: it is not shown again.")
		}
		return printClient(stdout, c.Client)
	})
}

func clientsGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients get", "CLIENT_ID [options]", "Shows one service client.", stderr)
	conn := addConnFlags(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	return clientCall(ctx, conn, "GET", clientsPath+"/"+url.PathEscape(pos[0]), nil, stdout, stderr)
}

func clientsUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients update", "CLIENT_ID [options]",
		"Changes the given fields of a service client. --scopes replaces the whole set.", stderr)
	conn := addConnFlags(fs)
	cf := addClientFlags(fs)
	creds := addCredentialFlags(fs)
	disable := fs.Bool("disable", false, "disable the client: it can no longer get tokens")
	enable := fs.Bool("enable", false, "enable the client again")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	body, err := cf.body(fs)
	if err != nil {
		return err
	}
	if err := creds.apply(fs, body, pos[0], stderr); err != nil {
		return err
	}
	switch {
	case *disable && *enable:
		return errors.New("give --disable or --enable, not both")
	case *disable, *enable:
		body.IsActive = enable
	}
	if reflect.ValueOf(*body).IsZero() {
		fs.Usage()
		return errors.New("nothing to change")
	}
	return clientCall(ctx, conn, "PUT", clientsPath+"/"+url.PathEscape(pos[0]), body, stdout, stderr)
}

func clientsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients delete", "CLIENT_ID [options]", "Deletes a service client and its secrets.", stderr)
	return deleteNamed(ctx, fs, args, clientsPath, "service client", stdout, stderr)
}

func clientsRotateSecret(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("permiso clients rotate-secret", "CLIENT_ID [options]",
		"Issues a new secret. The previous secrets keep working for the grace period, so services can roll without downtime.", stderr)
	conn := addConnFlags(fs)
	grace := fs.Duration("grace", 24*time.Hour, "how long the previous secret keeps working (0 ends it now; at most 720h)")
	current := fs.String("current-secret", "", "the current secret, checked before rotating (optional)")
	env := fs.Bool("env", false, "print the shell assignment CLIENT_SECRET=..., for eval")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *grace < 0 || *grace%time.Second != 0 {
		return errors.New("--grace must be a non-negative whole number of seconds, such as 24h or 90s")
	}
	graceSeconds := int64(*grace / time.Second)
	body := apitype.SecretRotation{GracePeriodSeconds: &graceSeconds}
	if isSet(fs, "current-secret") {
		body.CurrentSecret = current
	}
	api, err := conn.connect(ctx, stderr)
	if err != nil {
		return err
	}
	path := clientsPath + "/" + url.PathEscape(pos[0]) + "/rotate-secret"
	return callPrint(ctx, conn, api, stdout, "POST", path, body, func(out apitype.SecretRotated) error {
		if *env {
			fmt.Fprintf(stdout, "CLIENT_SECRET=%s\n", shellQuote(out.ClientSecret))
			return nil
		}
		fmt.Fprintf(stdout, "client_id:     %s\nclient_secret: %s\n", pos[0], out.ClientSecret)
		if out.PreviousSecretExpiresAt != nil {
			fmt.Fprintf(stdout, "previous secret valid until %s\n", fmtTime(out.PreviousSecretExpiresAt))
		}
		fmt.Fprintln(stderr, "Store the secret now: it is not shown again.")
		return nil
	})
}
