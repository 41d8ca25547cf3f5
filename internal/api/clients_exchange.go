package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Limits of a policy.
const (
	maxExchangeEntries = 20
	maxExchangeDepth   = 10
)

// newExchangePolicy is the API form of a policy.
func newExchangePolicy(p store.ExchangePolicy) apitype.ExchangePolicy {
	out := apitype.ExchangePolicy{Resources: nonNil(p.Resources), Targets: []apitype.ExchangeTarget{}, Delegate: p.Delegate,
		Impersonate: p.Impersonate, MaxDepth: p.Depth(), Actors: nonNil(p.Actors)}
	for _, t := range p.Targets {
		out.Targets = append(out.Targets, apitype.ExchangeTarget{Audience: t.Audience, Scopes: nonNil(t.Scopes)})
	}
	return out
}

// resolveExchange validates a token_exchange body into a policy. Target
// scopes may be named by name or id and are stored by name, as tokens
// carry them.
func (a *API) resolveExchange(ctx context.Context, in *apitype.ExchangePolicy, problems *web.Fields) (store.ExchangePolicy, error) {
	p := store.ExchangePolicy{Delegate: in.Delegate, Impersonate: in.Impersonate, MaxDepth: in.MaxDepth}
	if in.Resources != nil {
		p.Resources = uriList("token_exchange.resources", in.Resources, problems)
	}
	if in.MaxDepth < 0 || in.MaxDepth > maxExchangeDepth {
		problems.Addf("token_exchange.max_depth must be between 1 and %d (0: the default, %d)", maxExchangeDepth, store.DefaultExchangeDepth)
	}
	if len(in.Targets) > maxExchangeEntries {
		problems.Addf("token_exchange.targets may hold at most %d entries", maxExchangeEntries)
		return p, nil
	}
	for _, t := range in.Targets {
		aud := t.Audience
		switch {
		case aud == "" || len(aud) > 500 || strings.TrimSpace(aud) != aud || !web.PlainText(aud, false) || strings.ContainsAny(aud, " #"):
			problems.Addf("token_exchange.targets: audience %s must be a URI or a trust domain name, without spaces or a fragment", web.QuoteList([]string{aud}, 1))
			continue
		case slices.ContainsFunc(p.Targets, func(x store.ExchangeTarget) bool { return x.Audience == aud }):
			problems.Addf("token_exchange.targets: audience %s is listed twice", web.QuoteList([]string{aud}, 1))
			continue
		}
		names, err := a.scopeNames(ctx, "token_exchange.targets["+aud+"].scopes", t.Scopes, problems)
		if err != nil {
			return p, err
		}
		p.Targets = append(p.Targets, store.ExchangeTarget{Audience: aud, Scopes: names})
	}
	if len(in.Actors) > maxExchangeEntries {
		problems.Addf("token_exchange.actors may hold at most %d entries", maxExchangeEntries)
	}
	for _, id := range in.Actors {
		if !clientIDPattern.MatchString(id) || len(id) > 100 {
			problems.Addf("token_exchange.actors: %s is not a client_id", web.QuoteList([]string{id}, 1))
		} else if !slices.Contains(p.Actors, id) {
			p.Actors = append(p.Actors, id)
		}
	}
	return p, nil
}

// exchangePolicy returns the policy a body's token_exchange sets, or
// current when it sets none. The scopes a policy lets the client carry to
// other services are a grant like its own scopes: the delegation rule
// applies (the caller must hold each of them).
func (a *API) exchangePolicy(r *http.Request, caller *wire.Claims, clientID string, in *apitype.ExchangePolicy,
	current store.ExchangePolicy, problems *web.Fields) (store.ExchangePolicy, error) {
	if in == nil {
		return current, nil
	}
	p, err := a.resolveExchange(r.Context(), in, problems)
	if err != nil {
		return current, err
	}
	if err := a.mayGrant(r, caller, "client "+clientID+" (token exchange)", exchangeScopes(p)); err != nil {
		return current, err
	}
	return p, nil
}

// scopeNames resolves scope references (names or ids) to names.
func (a *API) scopeNames(ctx context.Context, field string, refs []string, problems *web.Fields) ([]string, error) {
	names := []string{}
	var unknown []string
	for _, ref := range refs {
		if ref == "" || len(ref) > 100 {
			unknown = append(unknown, ref)
			continue
		}
		s, err := a.findScope(ctx, ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, ref)
		case err != nil:
			return nil, web.Unavailable(err)
		case !slices.Contains(names, s.Name):
			names = append(names, s.Name)
		}
	}
	if len(unknown) > 0 {
		problems.Addf("%s: unknown scopes %s (give scope names or ids)", field, web.QuoteList(unknown, 10))
	}
	return names, nil
}

// exchangeScopes returns every scope a policy lets its client carry to
// another service, for the rule that nobody grants more than they hold.
func exchangeScopes(p store.ExchangePolicy) []string {
	var out []string
	for _, t := range p.Targets {
		for _, s := range t.Scopes {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}
