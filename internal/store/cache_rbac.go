package store

import (
	"context"
	"time"
)

// This file holds the Cache's scope and role lookups and the write methods
// it overrides to invalidate after a successful write.

// GetScope serves a scope by id from the cache.
func (c *Cache) GetScope(ctx context.Context, id string) (Scope, error) {
	return cached(c, func(c *Cache) map[string]entry[Scope] { return c.scopes }, id, func() (Scope, error) { return c.Store.GetScope(ctx, id) }, c.putScope)
}

// GetScopeByName serves a scope by name from the cache.
func (c *Cache) GetScopeByName(ctx context.Context, name string) (Scope, error) {
	return cached(c, func(c *Cache) map[string]entry[Scope] { return c.scopeByName }, name, func() (Scope, error) { return c.Store.GetScopeByName(ctx, name) }, c.putScope)
}

// GetRole serves a role by id from the cache.
func (c *Cache) GetRole(ctx context.Context, id string) (Role, error) {
	return cached(c, func(c *Cache) map[string]entry[Role] { return c.roles }, id, func() (Role, error) { return c.Store.GetRole(ctx, id) }, c.putRole)
}

// GetRoleByName serves a role by name from the cache.
func (c *Cache) GetRoleByName(ctx context.Context, name string) (Role, error) {
	return cached(c, func(c *Cache) map[string]entry[Role] { return c.roleByName }, name, func() (Role, error) { return c.Store.GetRoleByName(ctx, name) }, c.putRole)
}

func (c *Cache) putScope(s Scope, exp int64) {
	c.scopes[s.ID] = entry[Scope]{s, exp}
	c.scopeByName[s.Name] = entry[Scope]{s, exp}
}

func (c *Cache) putRole(r Role, exp int64) {
	c.roles[r.ID] = entry[Role]{r, exp}
	c.roleByName[r.Name] = entry[Role]{r, exp}
}

// cached is the read-through path shared by the scope and role lookups.
// m picks the map, under the read lock since Invalidate replaces maps; put stores a loaded value under the write
// lock (by id and by name, so either lookup hits afterwards).
func cached[T any](c *Cache, m func(*Cache) map[string]entry[T], key string, load func() (T, error), put func(T, int64)) (T, error) {
	now := c.now().UnixNano()
	c.mu.RLock()
	e, ok := m(c)[key]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now < e.exp {
		c.hits.Add(1)
		return e.v, nil
	}
	c.misses.Add(1)
	v, err := load()
	if err == nil {
		c.fill(gen, func(exp int64) { put(v, exp) })
	}
	return v, err
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
	delete(c.secrets, clientUUID)
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
