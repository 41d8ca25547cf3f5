package api

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/permiso-auth/permiso/internal/apitype"
	"github.com/permiso-auth/permiso/internal/audit"
	"github.com/permiso-auth/permiso/internal/mtls"
	"github.com/permiso-auth/permiso/internal/store"
	"github.com/permiso-auth/permiso/internal/web"
	"github.com/permiso-auth/permiso/sdk/wire"
)

// Service clients are served under /api/v1/service-clients and under the
// integration docs' alias /api/v1/admin/service-clients, with the same
// handlers. They are addressed by their public client_id. Of the original's
// mock endpoints, rate-limit status and the webhook test are real here
// (clients_webhook.go); the health check is not served: an endpoint either
// reports the truth or does not exist.
func (a *API) mountClients(mux *http.ServeMux) {
	for _, base := range []string{"/api/v1/service-clients", "/api/v1/admin/service-clients"} {
		a.handle(mux, "GET "+base, a.listClients)
		a.handle(mux, "POST "+base, a.createClient)
		a.handle(mux, "GET "+base+"/stats/overview", a.clientStats)
		a.handle(mux, "GET "+base+"/{client_id}", a.getClient)
		a.handle(mux, "PUT "+base+"/{client_id}", a.updateClient)
		a.handle(mux, "DELETE "+base+"/{client_id}", a.deleteClient)
		a.handle(mux, "POST "+base+"/{client_id}/rotate-secret", a.rotateClientSecret)
		a.handle(mux, "PUT "+base+"/{client_id}/scopes", a.setClientScopes)
		a.handle(mux, "GET "+base+"/{client_id}/permissions", a.clientPermissions)
		a.mountClientWebhooks(mux, base)
	}
}

const clientNotFound = "Service client"

// newClientResponse is the API form of c, with the credentials of a
// client without a secret (only what is registered).
func newClientResponse(c store.Client) apitype.Client {
	r := clientResponseBase(c)
	r.JWKS, r.JWKSURI = c.JWKS, c.JWKSURI
	if f := c.TLSClientAuth; f.Field != "" {
		*map[string]*string{mtls.FieldSubjectDN: &r.TLSClientAuthSubjectDN, mtls.FieldSANDNS: &r.TLSClientAuthSANDNS,
			mtls.FieldSANURI: &r.TLSClientAuthSANURI, mtls.FieldSANIP: &r.TLSClientAuthSANIP,
			mtls.FieldSANEmail: &r.TLSClientAuthSANEmail}[f.Field] = f.Value
	}
	return r
}

func clientResponseBase(c store.Client) apitype.Client {
	return apitype.Client{
		ID: c.ID, ClientID: c.ClientID, Name: c.Name, Description: c.Description, ClientType: c.Type,
		IsActive: c.Active, IsTrusted: c.Trusted, ContactEmail: c.ContactEmail, WebsiteURL: c.WebsiteURL,
		AccessTokenLifetime: c.AccessTokenLifetime, RefreshTokenLifetime: c.RefreshTokenLifetime,
		RateLimitPerMinute: c.RateLimitPerMinute, RateLimitPerHour: c.RateLimitPerHour,
		AllowedIPs: nonNil(c.AllowedIPs), WebhookURL: c.WebhookURL, LastUsed: c.LastUsed,
		TotalRequests: c.TotalRequests, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Scopes: briefScopes(c.Scopes), Audiences: nonNil(c.Audiences), GrantTypes: nonNil(c.GrantTypes),
		RedirectURIs: nonNil(c.RedirectURIs), TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		// The token endpoint refuses disabled clients and nothing else
		// about a stored client, so "active" is what decides.
		CanAuthenticate:       c.Active,
		SupportsRefreshTokens: slices.Contains(c.GrantTypes, wire.GrantRefreshToken),
		DPoPBoundAccessTokens: c.DPoPBoundAccessTokens, TLSClientCertificateBoundAccessTokens: c.TLSClientCertificateBoundAccessTokens,
		TokenExchange: newExchangePolicy(c.TokenExchange),
	}
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	q := r.URL.Query()
	var problems web.Fields
	paging := parseListPaging(q, &problems)
	f := store.ClientFilter{Page: paging.store(), Search: searchParam(q, &problems),
		Active: boolParam(q, "is_active", &problems), Trusted: boolParam(q, "is_trusted", &problems)}
	switch t := q.Get("client_type"); t {
	case "", wire.ClientTypeConfidential, wire.ClientTypePublic:
		f.Type = t
	default:
		problems.Addf("client_type must be confidential or public")
	}
	scopeID, err := a.scopeFilterRef(r.Context(), q, &problems)
	if err != nil {
		return err
	}
	f.ScopeID = scopeID
	if err := problems.Err(); err != nil {
		return err
	}
	clients, total, err := a.cfg.Store.ListClients(r.Context(), f)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]apitype.Client, len(clients))
	for i, c := range clients {
		out[i] = newClientResponse(c)
	}
	web.WriteJSON(w, http.StatusOK, apitype.ClientList{Paging: paging.page(total), Clients: out})
	return nil
}

// generateClientID returns client_<11 random URL-safe characters>, as the
// original's token_urlsafe(8).
func generateClientID() string {
	var b [8]byte
	rand.Read(b[:])
	return "client_" + base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	var in clientFields
	if err := web.DecodeJSON(w, r, &in); err != nil {
		return err
	}
	var problems web.Fields
	clientType := wire.ClientTypeConfidential
	if in.ClientType != nil {
		clientType = *in.ClientType
		if clientType != wire.ClientTypeConfidential && clientType != wire.ClientTypePublic {
			problems.Addf("client_type must be confidential or public")
			clientType = wire.ClientTypeConfidential
		}
	}
	c := newClientDefaults(clientType)
	if in.Name == nil {
		problems.Addf("name is required")
	}
	in.apply(&c, &problems)
	c.ClientID = generateClientID()
	if in.ClientID != nil {
		c.ClientID = *in.ClientID
		if !clientIDPattern.MatchString(c.ClientID) || len(c.ClientID) > 100 {
			problems.Addf("client_id must be 1 to 100 characters of letters, digits, _ and -")
		}
	}
	if in.ClientSecret != nil {
		switch n := utf8.RuneCountInString(*in.ClientSecret); {
		case clientType == wire.ClientTypePublic:
			problems.Addf("client_secret: public clients have no secret")
		case n < 24 || len(*in.ClientSecret) > 512:
			problems.Addf("client_secret must be 24 to 512 characters; omit it to have a strong one generated")
		}
	}
	if refs, ok := in.scopeRefs(); ok {
		if c.ScopeIDs, err = a.resolveScopeRefs(r.Context(), "scope_ids", refs, &problems); err != nil {
			return err
		}
	}
	if c.TokenExchange, err = a.exchangePolicy(r, caller, c.ClientID, in.TokenExchange, c.TokenExchange, &problems); err != nil {
		return err
	}
	checkClientRules(&c, &problems)
	a.checkWebhookURL(&c, &problems)
	a.checkCredentials(&c, in.anyTLS(), &problems)
	if in.ClientSecret != nil && clientType != wire.ClientTypePublic && !usesSecret(&c) {
		problems.Addf("client_secret: a client that authenticates with %s has no secret", c.TokenEndpointAuthMethod)
	}
	if err := problems.Err(); err != nil {
		return err
	}
	if err := a.mayGrantScopeIDs(r, caller, "client "+c.ClientID, c.ScopeIDs); err != nil {
		return err
	}

	// Hash before writing anything, so a failure leaves no client behind.
	var secret *string
	var hash []byte
	switch {
	case clientType == wire.ClientTypePublic, !usesSecret(&c):
	case in.ClientSecret != nil:
		if hash, err = a.cfg.Secrets.Import(*in.ClientSecret); err != nil {
			return fmt.Errorf("hash imported client secret: %w", err)
		}
		secret = in.ClientSecret
	default:
		s, h := a.cfg.Secrets.Generate()
		secret, hash = &s, h
	}
	c, err = a.cfg.Store.CreateClient(r.Context(), c)
	if err != nil {
		return storeErr(err, clientNotFound, "A client with this client_id already exists")
	}
	if hash != nil {
		if _, err := a.cfg.Store.AddClientSecret(r.Context(), store.ClientSecret{ClientID: c.ID, Hash: hash}); err != nil {
			// Do not leave a confidential client without a secret.
			if derr := a.cfg.Store.DeleteClient(r.Context(), c.ClientID); derr != nil {
				a.cfg.Logger.ErrorContext(r.Context(), "remove client after failed secret write", "client_id", c.ClientID, "err", derr)
			}
			return web.Unavailable(err)
		}
	}
	webhookSecret, err := a.ensureWebhookSecret(r.Context(), c)
	if err != nil {
		return err
	}
	a.record(r.Context(), a.event(r, caller, "client.created", audit.Success, c.ClientID, map[string]any{
		"name": c.Name, "client_type": c.Type, "scopes": c.ScopeNames(), "is_trusted": c.Trusted,
		"secret": secretOrigin(in.ClientSecret != nil, hash != nil), "token_endpoint_auth_method": c.TokenEndpointAuthMethod}))
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusCreated, apitype.ClientCreated{Client: newClientResponse(c), ClientSecret: secret,
		WebhookSecret: webhookSecret})
	return nil
}

// pathClient loads the client named by the {client_id} path value.
func (a *API) pathClient(r *http.Request) (store.Client, error) {
	id := r.PathValue("client_id")
	if !web.PlainText(id, false) || len(id) > 255 {
		// No client_id holds control characters or invalid UTF-8, and
		// PostgreSQL would refuse them as an error rather than a miss.
		return store.Client{}, web.NotFound(clientNotFound)
	}
	c, err := a.cfg.Store.GetClient(r.Context(), id)
	if err != nil {
		return store.Client{}, storeErr(err, clientNotFound, "")
	}
	return c, nil
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.requireScope(r, "admin:clients"); err != nil {
		return err
	}
	c, err := a.pathClient(r)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, newClientResponse(c))
	return nil
}

func (a *API) updateClient(w http.ResponseWriter, r *http.Request) error {
	return a.changeClient(w, r, "client.updated", func(problems *web.Fields) (clientFields, error) {
		var in clientFields
		if err := web.DecodeJSON(w, r, &in); err != nil {
			return clientFields{}, err
		}
		in.fixedFieldProblems(problems)
		return in, nil
	})
}

// setClientScopes is PUT /{client_id}/scopes: {scope_ids} replaces the set.
func (a *API) setClientScopes(w http.ResponseWriter, r *http.Request) error {
	return a.changeClient(w, r, "client.scopes_updated", func(problems *web.Fields) (clientFields, error) {
		var body struct {
			ScopeIDs *[]string `json:"scope_ids"`
		}
		if err := web.DecodeJSON(w, r, &body); err != nil {
			return clientFields{}, err
		}
		if body.ScopeIDs == nil {
			problems.Addf("scope_ids is required (a list of scope names or ids; [] removes every scope)")
		}
		return clientFields{ScopeIDs: body.ScopeIDs}, nil
	})
}

// changeClient authorises, decodes the change with decode, validates it
// against the current client and writes it in one store transaction.
func (a *API) changeClient(w http.ResponseWriter, r *http.Request, event string, decode func(*web.Fields) (clientFields, error)) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	current, err := a.pathClient(r)
	if err != nil {
		return err
	}
	if err := a.mayActOn(r, caller, clientPrincipal(current)); err != nil {
		return err
	}
	var problems web.Fields
	in, err := decode(&problems)
	if err != nil {
		return err
	}
	var scopeIDs []string
	refs, setScopes := in.scopeRefs()
	if setScopes {
		if scopeIDs, err = a.resolveScopeRefs(r.Context(), "scope_ids", refs, &problems); err != nil {
			return err
		}
	}
	// Validate against the current state first, so a bad body is a 422
	// without a transaction; the same change is reapplied inside it.
	probe := current
	probe.ScopeIDs = slices.Clone(current.ScopeIDs)
	exchange, err := a.exchangePolicy(r, caller, current.ClientID, in.TokenExchange, current.TokenExchange, &problems)
	if err != nil {
		return err
	}
	in.apply(&probe, &problems)
	checkClientRules(&probe, &problems)
	a.checkWebhookURL(&probe, &problems)
	a.checkCredentials(&probe, in.anyTLS(), &problems)
	if err := problems.Err(); err != nil {
		return err
	}
	if setScopes {
		if err := a.mayGrantScopeIDs(r, caller, "client "+current.ClientID, scopeIDs); err != nil {
			return err
		}
	}
	hadSecret := usesSecret(&current)
	c, err := a.cfg.Store.UpdateClient(r.Context(), current.ClientID, func(old store.Client) (store.Client, error) {
		if !sameSet(old.ScopeIDs, current.ScopeIDs) {
			// The scopes the rule was checked against changed meanwhile.
			return old, web.Conflict("The client changed while this request was checked; try again")
		}
		var p web.Fields
		hadSecret = usesSecret(&old)
		in.apply(&old, &p)
		checkClientRules(&old, &p)
		a.checkCredentials(&old, in.anyTLS(), &p)
		if setScopes {
			old.ScopeIDs = scopeIDs
		}
		if in.TokenExchange != nil {
			old.TokenExchange = exchange
		}
		return old, p.Err()
	})
	if err != nil {
		if _, ok := web.AsError(err); ok {
			return err
		}
		return storeErr(err, clientNotFound, "")
	}
	if hadSecret && !usesSecret(&c) {
		// A client that now authenticates with a key, a binding or a
		// certificate never authenticates with a secret again.
		if err := a.expireSecretsOf(r.Context(), &c); err != nil {
			return web.Unavailable(err)
		}
	}
	webhookSecret, err := a.ensureWebhookSecret(r.Context(), c)
	if err != nil {
		return err
	}
	a.record(r.Context(), a.event(r, caller, event, audit.Success, c.ClientID, map[string]any{
		"fields": changedClientFields(in), "scopes": c.ScopeNames(), "is_active": c.Active,
		"token_endpoint_auth_method": c.TokenEndpointAuthMethod}))
	if webhookSecret != nil {
		// The first webhook_url brings the first webhook secret, shown once.
		w.Header().Set("Cache-Control", "no-store")
	}
	web.WriteJSON(w, http.StatusOK, apitype.ClientChanged{Client: newClientResponse(c), WebhookSecret: webhookSecret})
	return nil
}

// changedClientFields names the fields a change set, for the audit log
// (names only: values may be personal data).
func changedClientFields(f clientFields) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(f.Name != nil, "name")
	add(f.Description != nil, "description")
	add(f.IsActive != nil, "is_active")
	add(f.IsTrusted != nil, "is_trusted")
	add(f.ContactEmail != nil, "contact_email")
	add(f.WebsiteURL != nil, "website_url")
	add(f.ScopeIDs != nil || f.Scopes != nil, "scope_ids")
	add(f.AccessTokenLifetime != nil, "access_token_lifetime")
	add(f.RefreshTokenLifetime.Set, "refresh_token_lifetime")
	add(f.RateLimitPerMinute != nil, "rate_limit_per_minute")
	add(f.RateLimitPerHour != nil, "rate_limit_per_hour")
	add(f.AllowedIPs != nil, "allowed_ips")
	add(f.WebhookURL != nil, "webhook_url")
	add(f.Audiences != nil, "audiences")
	add(f.GrantTypes != nil, "grant_types")
	add(f.RedirectURIs != nil, "redirect_uris")
	add(f.TokenEndpointAuthMethod != nil, "token_endpoint_auth_method")
	add(f.DPoPBoundAccessTokens != nil, "dpop_bound_access_tokens")
	add(f.TLSClientCertificateBoundAccessTokens != nil, "tls_client_certificate_bound_access_tokens")
	add(f.JWKS.Set, "jwks")
	add(f.JWKSURI != nil, "jwks_uri")
	for _, field := range mtls.Fields {
		add(f.tlsFields()[field] != nil, "tls_client_auth_"+field)
	}
	add(f.TokenExchange != nil, "token_exchange")
	return out
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request) error {
	caller, err := a.requireScope(r, "admin:clients")
	if err != nil {
		return err
	}
	target, err := a.pathClient(r)
	if err != nil {
		return err
	}
	if err := a.mayActOn(r, caller, clientPrincipal(target)); err != nil {
		return err
	}
	id := target.ClientID
	if err := a.cfg.Store.DeleteClient(r.Context(), id); err != nil {
		return storeErr(err, clientNotFound, "")
	}
	a.record(r.Context(), a.event(r, caller, "client.deleted", audit.Success, id, nil))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
