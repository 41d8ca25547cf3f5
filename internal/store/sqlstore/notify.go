package sqlstore

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/permiso-auth/permiso/internal/store"
)

// notifyChannel is the PostgreSQL channel every replica LISTENs on.
const notifyChannel = "permiso_changes"

var errBadConn = driver.ErrBadConn

type changeMsg struct {
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Tenant string `json:"tenant,omitempty"`
}

func encodeChange(c store.Change) string {
	b, _ := json.Marshal(changeMsg{Kind: c.Kind, ID: c.ID, Tenant: c.Tenant}) // strings always marshal
	return string(b)
}

// Lock runs fn while holding the named lock. On PostgreSQL it is a
// session-level advisory lock on a dedicated connection, so it excludes
// every process using the database; on SQLite, where one process owns the
// file, a process-local mutex is enough.
func (db *DB) Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if !db.pg() {
		db.locksMu.Lock()
		mu := db.locks[name]
		if mu == nil {
			mu = new(sync.Mutex)
			db.locks[name] = mu
		}
		db.locksMu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		return fn(ctx)
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	key := int64(h.Sum64())
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("lock %q: %w", name, err)
	}
	defer conn.Close()
	// pg_advisory_lock waits; cancelling ctx cancels the wait.
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("lock %q: %w", name, err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key); err != nil {
			// Discard the connection rather than return it to the pool
			// still holding the lock.
			_ = conn.Raw(func(any) error { return errBadConn })
		}
	}()
	return fn(ctx)
}

// Lock runs fn while holding the named lock of the tenant: two tenants'
// locks of one name never exclude each other. The default tenant's names
// are those the database had before tenants, so replicas of either version
// agree during an upgrade.
func (s *Tenant) Lock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if s.id != store.DefaultTenant {
		name = "tenant/" + s.id + "/" + name
	}
	return s.db.Lock(ctx, name, fn)
}

// Publish announces a change of the tenant's data.
func (s *Tenant) Publish(ctx context.Context, c store.Change) error {
	c.Tenant = s.id
	return s.db.Publish(ctx, c)
}

// Subscribe delivers the changes of the tenant's data, and those that
// concern every tenant (Kind "*"), as [DB.Subscribe] does. Each call
// subscribes anew: a server of many tenants subscribes once, on the DB,
// and routes changes by their Tenant instead.
func (s *Tenant) Subscribe(ctx context.Context, fn func(store.Change)) error {
	return s.db.Subscribe(ctx, func(c store.Change) {
		if c.Tenant == s.id || c.Tenant == "" {
			fn(c)
		}
	})
}

// Publish announces c to every subscriber of every process sharing the
// database. Write methods publish their own changes already.
func (db *DB) Publish(ctx context.Context, c store.Change) error {
	if !db.pg() {
		db.hub.broadcast(c)
		return nil
	}
	if _, err := db.exec(ctx, "SELECT pg_notify(?, ?)", notifyChannel, encodeChange(c)); err != nil {
		return fmt.Errorf("publish %s change: %w", c.Kind, err)
	}
	return nil
}

// Subscribe calls fn for every change published from now on, from a
// goroutine of its own, until ctx ends; calls to fn are sequential. It does
// not block: on PostgreSQL it returns once the LISTEN is established (so a
// change published after Subscribe returns is delivered) or with the error
// of that first connection. When the connection drops it reconnects with
// backoff and then delivers Change{Kind: "*"}, because notifications sent
// meanwhile are lost: subscribers must treat "*" as "invalidate everything".
func (db *DB) Subscribe(ctx context.Context, fn func(store.Change)) error {
	if !db.pg() {
		db.hub.subscribe(ctx, fn)
		return nil
	}
	conn, err := db.listen(ctx)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	go db.listenLoop(ctx, conn, fn)
	return nil
}

func (db *DB) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, db.pgURL)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

func (db *DB) listenLoop(ctx context.Context, conn *pgx.Conn, fn func(store.Change)) {
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		n, err := conn.WaitForNotification(ctx)
		if err == nil {
			var m changeMsg
			if json.Unmarshal([]byte(n.Payload), &m) != nil || m.Kind == "" {
				db.log.Warn("ignoring malformed change notification", "payload", n.Payload)
				continue
			}
			fn(store.Change{Kind: m.Kind, ID: m.ID, Tenant: m.Tenant})
			continue
		}
		if ctx.Err() != nil {
			return
		}
		db.log.Warn("change listener lost its connection; reconnecting", "err", err)
		conn.Close(context.Background())
		conn = nil
		for conn == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			if c, err := db.listen(ctx); err == nil {
				conn, backoff = c, 100*time.Millisecond
			} else {
				backoff = min(backoff*2, 5*time.Second)
				db.log.Warn("change listener reconnect failed", "err", err, "retry_in", backoff)
			}
		}
		fn(store.Change{Kind: "*"})
	}
}

// hub fans changes out to in-process subscribers (SQLite). Each subscriber
// has a buffer and a goroutine, so a slow subscriber never blocks a writer;
// one that falls behind gets Change{Kind: "*"} instead of the dropped items.
type hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
}

type sub struct {
	ch       chan store.Change
	overflow chan struct{} // capacity 1: "changes were dropped"
}

func (h *hub) subscribe(ctx context.Context, fn func(store.Change)) {
	s := &sub{ch: make(chan store.Change, 256), overflow: make(chan struct{}, 1)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[*sub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-s.ch:
				fn(c)
			case <-s.overflow:
				fn(store.Change{Kind: "*"})
			}
		}
	}()
}

func (h *hub) broadcast(c store.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.ch <- c:
		default:
			select {
			case s.overflow <- struct{}{}:
			default:
			}
		}
	}
}
