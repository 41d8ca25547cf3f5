package store

import (
	"context"
	"errors"
	"time"
)

// This file holds the Cache's scope and role lookups and the write methods
// it overrides to invalidate after a successful write.

// GetScope serves a scope by id from the cache.
func (c *Cache) GetScope(ctx context.Context, id string) (Scope, error) {
	return cached(ctx, c, func(c *Cache) map[string]*entry[Scope] { return c.scopes }, "p", id,
		func(ctx context.Context) (Scope, error) { return c.Store.GetScope(ctx, id) }, c.putScope)
}

// GetScopeByName serves a scope by name from the cache.
func (c *Cache) GetScopeByName(ctx context.Context, name string) (Scope, error) {
	return cached(ctx, c, func(c *Cache) map[string]*entry[Scope] { return c.scopeByName }, "P", name,
		func(ctx context.Context) (Scope, error) { return c.Store.GetScopeByName(ctx, name) }, c.putScope)
}

// GetRole serves a role by id from the cache.
func (c *Cache) GetRole(ctx context.Context, id string) (Role, error) {
	return cached(ctx, c, func(c *Cache) map[string]*entry[Role] { return c.roles }, "r", id,
		func(ctx context.Context) (Role, error) { return c.Store.GetRole(ctx, id) }, c.putRole)
}

// GetRoleByName serves a role by name from the cache.
func (c *Cache) GetRoleByName(ctx context.Context, name string) (Role, error) {
	return cached(ctx, c, func(c *Cache) map[string]*entry[Role] { return c.roleByName }, "R", name,
		func(ctx context.Context) (Role, error) { return c.Store.GetRoleByName(ctx, name) }, c.putRole)
}

func (c *Cache) putScope(s Scope, at int64) {
	e := &entry[Scope]{v: s, at: at}
	c.scopes[s.ID] = e
	c.scopeByName[s.Name] = e
}

func (c *Cache) putRole(r Role, at int64) {
	e := &entry[Role]{v: r, at: at}
	c.roles[r.ID] = e
	c.roleByName[r.Name] = e
}

// cached is the read-through path shared by the scope and role lookups.
// m picks the map, under the read lock since Invalidate replaces maps; put
// stores a loaded value under the write lock (by id and by name, so either
// lookup hits afterwards).
func cached[T any](ctx context.Context, c *Cache, m func(*Cache) map[string]*entry[T], kind, key string,
	load func(context.Context) (T, error), put func(T, int64)) (T, error) {
	now := c.now().UnixNano()
	c.mu.RLock()
	e, ok := m(c)[key]
	gen := c.gen
	c.mu.RUnlock()
	var v verdict
	if ok {
		switch v = c.judge(e.at, now, !e.invalid); v {
		case serve:
			c.hits.Add(1)
			return e.v, nil
		case serveStale:
			c.hits.Add(1)
			c.staleHits.Add(1)
			return e.v, nil
		}
	}
	c.misses.Add(1)
	res, err := c.do(ctx, flightKey(kind, key, gen), func(ctx context.Context) (any, error) {
		v, err := load(ctx)
		switch {
		case err == nil:
			c.storeAnswered()
			c.fill(gen, func() { put(v, now) }, rbacKey, keyOf(any(v)))
		case errors.Is(err, ErrNotFound):
			c.storeAnswered()
			c.fill(gen, func() { delete(m(c), key) }, rbacKey) // renamed or deleted
		case isUnavailable(err):
			c.storeFailed(now)
		}
		return v, err
	})
	if ok && v == reread && isUnavailable(err) {
		c.staleHits.Add(1)
		return e.v, nil
	}
	val, _ := res.(T)
	return val, err
}

// keyOf is the keyGen key of a loaded scope or role.
func keyOf(v any) string {
	if r, ok := v.(Role); ok {
		return "r\x00" + r.ID
	}
	return rbacKey
}

// invalidateAfter drops what ch names once a write has succeeded.
func invalidateAfter[T any](c *Cache, v T, err error, ch Change) (T, error) {
	if err == nil {
		c.Invalidate(ch)
	}
	return v, err
}

// CreateClient creates through the store, then forgets a remembered
// "unknown" for the new client_id.
func (c *Cache) CreateClient(ctx context.Context, cl Client) (Client, error) {
	v, err := c.Store.CreateClient(ctx, cl)
	return invalidateAfter(c, v, err, Change{Kind: ChangeClient, ID: cl.ClientID})
}

// UpdateClient updates through the store and drops the old and new client_id.
func (c *Cache) UpdateClient(ctx context.Context, clientID string, fn func(Client) (Client, error)) (Client, error) {
	v, err := c.Store.UpdateClient(ctx, clientID, fn)
	if err == nil && v.ClientID != clientID {
		c.Invalidate(Change{Kind: ChangeClient, ID: v.ClientID})
	}
	return invalidateAfter(c, v, err, Change{Kind: ChangeClient, ID: clientID})
}

// DeleteClient deletes through the store and drops the client.
func (c *Cache) DeleteClient(ctx context.Context, clientID string) error {
	_, err := invalidateAfter(c, struct{}{}, c.Store.DeleteClient(ctx, clientID), Change{Kind: ChangeClient, ID: clientID})
	return err
}

// AddClientSecret adds through the store and drops the client's cached secrets.
func (c *Cache) AddClientSecret(ctx context.Context, s ClientSecret) (ClientSecret, error) {
	v, err := c.Store.AddClientSecret(ctx, s)
	if err == nil {
		c.dropSecrets(s.ClientID)
	}
	return v, err
}

// ExpireClientSecrets expires through the store and drops the client's
// cached secrets.
func (c *Cache) ExpireClientSecrets(ctx context.Context, clientUUID, keepID string, at time.Time) error {
	err := c.Store.ExpireClientSecrets(ctx, clientUUID, keepID, at)
	if err == nil {
		c.dropSecrets(clientUUID)
	}
	return err
}

func (c *Cache) dropSecrets(clientUUID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.secrets[clientUUID]; ok {
		c.secrets[clientUUID] = invalidated(e)
	}
	c.keyGen["s\x00"+clientUUID] = c.gen
	for clientID, id := range c.uuidOf {
		if id == clientUUID {
			c.dropClient(clientID) // so a Load running now does not bring the old secrets back
			return
		}
	}
}

var allScopes = Change{Kind: ChangeScope}

// CreateScope creates through the store and drops cached scopes.
func (c *Cache) CreateScope(ctx context.Context, s Scope) (Scope, error) {
	v, err := c.Store.CreateScope(ctx, s)
	return invalidateAfter(c, v, err, allScopes)
}

// UpdateScope updates through the store and drops cached scopes and what
// embeds them (roles, clients).
func (c *Cache) UpdateScope(ctx context.Context, id string, fn func(Scope) (Scope, error)) (Scope, error) {
	v, err := c.Store.UpdateScope(ctx, id, fn)
	return invalidateAfter(c, v, err, allScopes)
}

// DeleteScope deletes through the store and drops cached scopes.
func (c *Cache) DeleteScope(ctx context.Context, id string) error {
	_, err := invalidateAfter(c, struct{}{}, c.Store.DeleteScope(ctx, id), allScopes)
	return err
}

// CreateRole creates through the store and drops the role.
func (c *Cache) CreateRole(ctx context.Context, r Role) (Role, error) {
	v, err := c.Store.CreateRole(ctx, r)
	return invalidateAfter(c, v, err, Change{Kind: ChangeRole, ID: v.ID})
}

// UpdateRole updates through the store and drops the role.
func (c *Cache) UpdateRole(ctx context.Context, id string, fn func(Role) (Role, error)) (Role, error) {
	v, err := c.Store.UpdateRole(ctx, id, fn)
	return invalidateAfter(c, v, err, Change{Kind: ChangeRole, ID: id})
}

// DeleteRole deletes through the store and drops the role.
func (c *Cache) DeleteRole(ctx context.Context, id string) error {
	_, err := invalidateAfter(c, struct{}{}, c.Store.DeleteRole(ctx, id), Change{Kind: ChangeRole, ID: id})
	return err
}
