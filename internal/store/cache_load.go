package store

import (
	"context"
	"fmt"
	"strings"
)

// loadPage is how many clients one bulk read brings.
const loadPage = 1000

// Load reads every client with its secrets, every scope and every role, in
// pages, and swaps them in at once; until then the current entries keep
// answering. Afterwards the cache holds every client, so a lookup of a
// client_id it lacks is answered from memory. Invalidations that arrive
// while Load reads win over what it read. Identical strings and lists
// (grant types, audiences, scope sets) are shared between clients, which
// keeps a client at about a kilobyte.
func (c *Cache) Load(ctx context.Context) error {
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	start := c.now()
	at := start.UnixNano()
	c.mu.Lock()
	c.loading = map[string]struct{}{}
	epoch, gen := c.epoch, c.gen
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.loading = nil
		c.mu.Unlock()
	}()

	scopes, err := loadAll(func(p Page) ([]Scope, error) {
		l, _, err := c.Store.ListScopes(ctx, ScopeFilter{Page: p})
		return l, err
	})
	if err != nil {
		return c.loadFailed(at, fmt.Errorf("load scopes: %w", err))
	}
	roles, err := loadAll(func(p Page) ([]Role, error) {
		l, _, err := c.Store.ListRoles(ctx, RoleFilter{Page: p})
		return l, err
	})
	if err != nil {
		return c.loadFailed(at, fmt.Errorf("load roles: %w", err))
	}
	in := newInterner(scopes)
	clients := map[string]*entry[Client]{}
	uuidOf := map[string]string{}
	secrets := map[string]*entry[[]Secret]{}
	after := ""
	for {
		page, err := c.Store.LoadClients(ctx, after, loadPage, start)
		if err != nil {
			return c.loadFailed(at, fmt.Errorf("load clients: %w", err))
		}
		for i := range page {
			cl := in.client(page[i].Client)
			clients[cl.ClientID] = &entry[Client]{v: cl, at: at, epoch: epoch}
			uuidOf[cl.ClientID] = cl.ID
			secrets[cl.ID] = &entry[[]Secret]{v: in.secrets(page[i].Secrets), at: at}
		}
		if len(page) < loadPage {
			break
		}
		after = page[len(page)-1].ClientID
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	// Reads that started before this load are older than what it read.
	c.floorGen = max(c.floorGen, gen)
	for k, g := range c.keyGen {
		if g <= gen {
			delete(c.keyGen, k)
		}
	}
	dirty := c.loading
	for id := range dirty {
		if e, ok := clients[id]; ok {
			clients[id] = invalidated(e)
			if s, ok := secrets[e.v.ID]; ok {
				secrets[e.v.ID] = invalidated(s)
			}
		}
	}
	c.clients, c.uuidOf, c.secrets, c.dirty = clients, uuidOf, secrets, dirty
	c.negClients = map[string]int64{}
	if c.epoch == epoch {
		// No scope changed while loading: what was read is current.
		c.scopes, c.scopeByName = map[string]*entry[Scope]{}, map[string]*entry[Scope]{}
		for _, s := range scopes {
			c.putScope(s, at)
		}
		c.roles, c.roleByName = map[string]*entry[Role]{}, map[string]*entry[Role]{}
		for _, r := range roles {
			c.putRole(r, at)
		}
		c.complete = true
	} else {
		c.requestLoad()
	}
	c.loading = nil
	// The load is as old as its start: a change announced during it may
	// have been read or not, and only a change followed before it began is
	// surely in it.
	c.lastLoaded.Store(at)
	c.storeAnswered()
	return nil
}

func (c *Cache) loadFailed(at int64, err error) error {
	if isUnavailable(err) {
		c.storeFailed(at)
	}
	return err
}

// loadAll reads every page of a list whose pages hold at most 1000.
func loadAll[T any](list func(Page) ([]T, error)) ([]T, error) {
	var out []T
	for off := 0; ; off += 1000 {
		page, err := list(Page{Offset: off, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// interner shares identical strings and read-only lists between the
// clients of one Load.
type interner struct {
	strs     map[string]string
	lists    map[string][]string
	scopeSet map[string][]Scope
	scopes   map[string]Scope
	ints     map[int]*int
}

func newInterner(scopes []Scope) *interner {
	in := &interner{strs: map[string]string{}, lists: map[string][]string{}, scopeSet: map[string][]Scope{},
		scopes: make(map[string]Scope, len(scopes)), ints: map[int]*int{}}
	for _, s := range scopes {
		in.scopes[s.ID] = s
	}
	return in
}

func (in *interner) str(s string) string {
	if v, ok := in.strs[s]; ok {
		return v
	}
	in.strs[s] = s
	return s
}

func (in *interner) list(l []string) []string {
	if l == nil {
		return nil
	}
	key := strings.Join(l, "\x00")
	if v, ok := in.lists[key]; ok && len(v) == len(l) {
		return v
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = in.str(s)
	}
	in.lists[key] = out
	return out
}

// client returns cl with its shared parts interned. Its scopes are the
// ones this Load read, in the order the store gave.
func (in *interner) client(cl Client) Client {
	cl.Type = in.str(cl.Type)
	cl.TokenEndpointAuthMethod = in.str(cl.TokenEndpointAuthMethod)
	cl.GrantTypes = in.list(cl.GrantTypes)
	cl.Audiences = in.list(cl.Audiences)
	cl.RedirectURIs = in.list(cl.RedirectURIs)
	cl.AllowedIPs = in.list(cl.AllowedIPs)
	cl.Description = in.str(cl.Description)
	cl.WebhookURL = in.str(cl.WebhookURL)
	cl.WebsiteURL = in.str(cl.WebsiteURL)
	cl.ContactEmail = in.str(cl.ContactEmail)
	key := strings.Join(cl.ScopeIDs, "\x00")
	if set, ok := in.scopeSet[key]; ok && len(set) == len(cl.Scopes) {
		cl.Scopes = set
	} else {
		set := make([]Scope, len(cl.Scopes))
		for i, s := range cl.Scopes {
			if cur, ok := in.scopes[s.ID]; ok {
				s = cur
			}
			set[i] = s
		}
		in.scopeSet[key] = set
		cl.Scopes = set
	}
	cl.ScopeIDs = in.list(cl.ScopeIDs)
	if cl.RefreshTokenLifetime != nil {
		v := *cl.RefreshTokenLifetime
		p, ok := in.ints[v]
		if !ok {
			p = &v
			in.ints[v] = p
		}
		cl.RefreshTokenLifetime = p
	}
	return cl
}

// secrets trims a client's secret list to its length.
func (in *interner) secrets(l []ClientSecret) []ClientSecret {
	if len(l) == 0 {
		return []ClientSecret{}
	}
	return l[:len(l):len(l)]
}
