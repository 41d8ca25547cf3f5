package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

const trustCols = `id, name, description, issuer, key_source, jwks_uri, jwks, trust_domain, audience,
	max_token_age, is_active, created_at, updated_at`

func scanTrust(row interface{ Scan(...any) error }) (store.Trust, error) {
	var t store.Trust
	var age int64
	err := row.Scan(&t.ID, &t.Name, &t.Description, &t.Issuer, &t.KeySource, &t.JWKSURI, rawJSON{&t.JWKS},
		&t.TrustDomain, &t.Audience, &age, &t.Active, tscan{&t.CreatedAt}, tscan{&t.UpdatedAt})
	t.MaxTokenAge = time.Duration(age) * time.Second
	return t, err
}

func trustArgs(t store.Trust) []any {
	return []any{t.Name, t.Description, t.Issuer, t.KeySource, t.JWKSURI, string(t.JWKS), t.TrustDomain,
		t.Audience, int64(t.MaxTokenAge / time.Second), t.Active}
}

// CreateTrust inserts a trust; ErrConflict on a duplicate name, issuer or
// trust domain.
func (db *DB) CreateTrust(ctx context.Context, t store.Trust) (store.Trust, error) {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.UpdatedAt = t.CreatedAt
	err := db.inTx(ctx, func(x *tx) error {
		args := append(append([]any{t.ID}, trustArgs(t)...), db.ts(t.CreatedAt), db.ts(t.UpdatedAt))
		if _, err := x.exec(ctx, "INSERT INTO trusts ("+trustCols+") VALUES ("+placeholders(13)+")", args...); err != nil {
			return mapErr(err)
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return store.Trust{}, fmt.Errorf("create trust %q: %w", t.Name, err)
	}
	return db.GetTrust(ctx, t.Name)
}

// GetTrust reads a trust by name.
func (db *DB) GetTrust(ctx context.Context, name string) (store.Trust, error) {
	t, err := scanTrust(db.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE name = ?", name))
	if err != nil {
		return store.Trust{}, fmt.Errorf("get trust %q: %w", name, mapErr(err))
	}
	return t, nil
}

// ListTrusts returns every trust by name.
func (db *DB) ListTrusts(ctx context.Context) ([]store.Trust, error) {
	rows, err := db.query(ctx, "SELECT "+trustCols+" FROM trusts ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list trusts: %w", err)
	}
	defer rows.Close()
	out := []store.Trust{}
	for rows.Next() {
		t, err := scanTrust(rows)
		if err != nil {
			return nil, fmt.Errorf("list trusts: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list trusts: %w", err)
	}
	return out, nil
}

// UpdateTrust applies fn inside a transaction.
func (db *DB) UpdateTrust(ctx context.Context, name string, fn func(store.Trust) (store.Trust, error)) (store.Trust, error) {
	var out store.Trust
	err := db.inTx(ctx, func(x *tx) error {
		old, err := scanTrust(x.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE name = ?"+db.forUpdate(), name))
		if err != nil {
			return mapErr(err)
		}
		t, err := fn(old)
		if err != nil {
			return err
		}
		t.ID, t.CreatedAt, t.UpdatedAt = old.ID, old.CreatedAt, now()
		args := append(trustArgs(t), db.ts(t.UpdatedAt), old.ID)
		if _, err := x.exec(ctx, `UPDATE trusts SET name = ?, description = ?, issuer = ?, key_source = ?, jwks_uri = ?,
			jwks = ?, trust_domain = ?, audience = ?, max_token_age = ?, is_active = ?, updated_at = ? WHERE id = ?`, args...); err != nil {
			return mapErr(err)
		}
		if out, err = scanTrust(x.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE id = ?", old.ID)); err != nil {
			return mapErr(err)
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return store.Trust{}, fmt.Errorf("update trust %q: %w", name, err)
	}
	return out, nil
}

// DeleteTrust removes a trust; ErrConflict while a binding uses it.
func (db *DB) DeleteTrust(ctx context.Context, name string) error {
	err := db.inTx(ctx, func(x *tx) error {
		n, err := deleted(x.exec(ctx, "DELETE FROM trusts WHERE name = ?", name))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return fmt.Errorf("delete trust %q: %w", name, err)
	}
	return nil
}

const bindingCols = `b.id, b.trust_id, b.client_id, c.client_id, b.subject, b.conditions, b.created_at`

func scanBinding(row interface{ Scan(...any) error }) (store.TrustBinding, error) {
	var b store.TrustBinding
	var cond json.RawMessage
	if err := row.Scan(&b.ID, &b.TrustID, &b.ClientID, &b.ClientName, &b.Subject, rawJSON{&cond}, tscan{&b.CreatedAt}); err != nil {
		return b, err
	}
	b.Conditions = map[string][]string{}
	if len(cond) > 0 {
		if err := json.Unmarshal(cond, &b.Conditions); err != nil {
			return b, fmt.Errorf("scan binding conditions: %w", err)
		}
	}
	return b, nil
}

// CreateTrustBinding inserts a binding; ErrConflict when its (trust,
// subject) pair is bound already, ErrNotFound for an unknown trust or client.
func (db *DB) CreateTrustBinding(ctx context.Context, b store.TrustBinding) (store.TrustBinding, error) {
	if b.ID == "" {
		b.ID = newID()
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = now()
	}
	cond := b.Conditions
	if cond == nil {
		cond = map[string][]string{}
	}
	condJSON, err := json.Marshal(cond)
	if err != nil {
		return store.TrustBinding{}, fmt.Errorf("create trust binding: %w", err)
	}
	var out store.TrustBinding
	err = db.inTx(ctx, func(x *tx) error {
		if _, err := x.exec(ctx, "INSERT INTO trust_bindings (id, trust_id, client_id, subject, conditions, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			b.ID, b.TrustID, b.ClientID, b.Subject, string(condJSON), db.ts(b.CreatedAt)); err != nil {
			return mapErr(err)
		}
		var err error
		out, err = scanBinding(x.queryRow(ctx, "SELECT "+bindingCols+" FROM trust_bindings b JOIN clients c ON c.id = b.client_id WHERE b.id = ?", b.ID))
		if err != nil {
			return mapErr(err)
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return store.TrustBinding{}, fmt.Errorf("create trust binding: %w", err)
	}
	return out, nil
}

// ListTrustBindings returns the bindings f selects, oldest first.
func (db *DB) ListTrustBindings(ctx context.Context, f store.TrustBindingFilter) ([]store.TrustBinding, error) {
	var w where
	if f.TrustID != "" {
		w.add("b.trust_id = ?", f.TrustID)
	}
	if f.ClientID != "" {
		w.add("b.client_id = ?", f.ClientID)
	}
	rows, err := db.query(ctx, "SELECT "+bindingCols+" FROM trust_bindings b JOIN clients c ON c.id = b.client_id"+
		w.String()+" ORDER BY b.created_at, b.id", w.args...)
	if err != nil {
		return nil, fmt.Errorf("list trust bindings: %w", err)
	}
	defer rows.Close()
	out := []store.TrustBinding{}
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, fmt.Errorf("list trust bindings: %w", err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list trust bindings: %w", err)
	}
	return out, nil
}

// DeleteTrustBinding removes a binding.
func (db *DB) DeleteTrustBinding(ctx context.Context, id string) error {
	err := db.inTx(ctx, func(x *tx) error {
		n, err := deleted(x.exec(ctx, "DELETE FROM trust_bindings WHERE id = ?", id))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return fmt.Errorf("delete trust binding %q: %w", id, err)
	}
	return nil
}
