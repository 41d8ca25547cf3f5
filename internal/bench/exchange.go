package bench

import (
	"context"
	"fmt"
	"net/url"
)

// Token exchange (RFC 8693) parameters of the exchange scenario.
const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

// prepareExchange registers a service whose tokens are for the exchanging
// client's resource, and the exchanging client, whose policy lets it act
// for their subject at a second audience; each request exchanges the same
// subject token, as a service called again and again by one caller without
// a cache of its own would.
func prepareExchange(ctx context.Context, s *setup) (func(int) Op, error) {
	resource := "https://bench-" + s.runID + ".invalid/upstream"
	target := "https://bench-" + s.runID + ".invalid/downstream"
	subID, subSecret, err := s.createClient(ctx, map[string]any{
		"name": "bench-caller-" + s.runID, "scope_ids": benchScopes, "audiences": []string{resource},
		"access_token_lifetime": 3600, "rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour})
	if err != nil {
		return nil, err
	}
	exID, exSecret, err := s.createClient(ctx, map[string]any{
		"name": "bench-exchanger-" + s.runID, "grant_types": []string{grantTokenExchange},
		"access_token_lifetime": 3600, "rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour,
		"token_exchange": map[string]any{"resources": []string{resource}, "delegate": true,
			"targets": []map[string]any{{"audience": target, "scopes": benchScopes}}}})
	if err != nil {
		return nil, fmt.Errorf("exchanging client (does the server support token exchange?): %w", err)
	}
	subject, err := s.tokenFor(ctx, subID, subSecret, url.Values{"resource": {resource}})
	if err != nil {
		return nil, fmt.Errorf("subject token: %w", err)
	}
	r := formRequest(s.base, "/oauth2/token", url.Values{"grant_type": {grantTokenExchange}, "subject_token": {subject},
		"subject_token_type": {tokenTypeAccess}, "audience": {target}}, exID, exSecret)
	return func(int) Op { return okOp(r, checkToken) }, nil
}

// refExchangeOp is the exchange against the reference handler: a subject
// token it signed, exchanged by its one client.
func refExchangeOp(ctx context.Context, s *setup, ref *referenceServer) (func(int) Op, error) {
	body, err := s.call(ctx, formRequest(ref.baseURL, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
		ref.clientID, ref.secret), 200)
	if err != nil {
		return nil, fmt.Errorf("reference subject token: %w", err)
	}
	subject, ok := jsonString(body, "access_token")
	if !ok {
		return nil, fmt.Errorf("reference subject token: answer without access_token")
	}
	r := formRequest(ref.baseURL, "/oauth2/token", url.Values{"grant_type": {grantTokenExchange},
		"subject_token": {string(subject)}, "subject_token_type": {tokenTypeAccess}, "audience": {"https://reference.invalid/downstream"}},
		ref.clientID, ref.secret)
	return func(int) Op { return okOp(r, checkToken) }, nil
}
