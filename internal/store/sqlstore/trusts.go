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
func (st *Tenant) CreateTrust(ctx context.Context, t store.Trust) (store.Trust, error) {
	if t.ID == "" {
		t.ID = newID()
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now()
	}
	t.UpdatedAt = t.CreatedAt
	err := st.inTx(ctx, func(x *tx) error {
		args := append(append([]any{st.id, t.ID}, trustArgs(t)...), st.ts(t.CreatedAt), st.ts(t.UpdatedAt))
		if _, err := x.exec(ctx, "INSERT INTO trusts (tenant_id, "+trustCols+") VALUES ("+placeholders(14)+")", args...); err != nil {
			return mapErr(err)
		}
		return x.publish(ctx, store.Change{Kind: store.ChangeTrust})
	})
	if err != nil {
		return store.Trust{}, fmt.Errorf("create trust %q: %w", t.Name, err)
	}
	return st.GetTrust(ctx, t.Name)
}

// GetTrust reads a trust by name.
func (st *Tenant) GetTrust(ctx context.Context, name string) (store.Trust, error) {
	t, err := scanTrust(st.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE tenant_id = ? AND name = ?", st.id, name))
	if err != nil {
		return store.Trust{}, fmt.Errorf("get trust %q: %w", name, mapErr(err))
	}
	return t, nil
}

// ListTrusts returns every trust by name.
func (st *Tenant) ListTrusts(ctx context.Context) ([]store.Trust, error) {
	rows, err := st.query(ctx, "SELECT "+trustCols+" FROM trusts WHERE tenant_id = ? ORDER BY name", st.id)
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
func (st *Tenant) UpdateTrust(ctx context.Context, name string, fn func(store.Trust) (store.Trust, error)) (store.Trust, error) {
	var out store.Trust
	err := st.inTx(ctx, func(x *tx) error {
		old, err := scanTrust(x.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE tenant_id = ? AND name = ?"+st.forUpdate(), st.id, name))
		if err != nil {
			return mapErr(err)
		}
		t, err := fn(old)
		if err != nil {
			return err
		}
		t.ID, t.CreatedAt, t.UpdatedAt = old.ID, old.CreatedAt, now()
		args := append(trustArgs(t), st.ts(t.UpdatedAt), st.id, old.ID)
		if _, err := x.exec(ctx, `UPDATE trusts SET name = ?, description = ?, issuer = ?, key_source = ?, jwks_uri = ?,
			jwks = ?, trust_domain = ?, audience = ?, max_token_age = ?, is_active = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`, args...); err != nil {
			return mapErr(err)
		}
		if out, err = scanTrust(x.queryRow(ctx, "SELECT "+trustCols+" FROM trusts WHERE tenant_id = ? AND id = ?", st.id, old.ID)); err != nil {
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
func (st *Tenant) DeleteTrust(ctx context.Context, name string) error {
	err := st.inTx(ctx, func(x *tx) error {
		n, err := deleted(x.exec(ctx, "DELETE FROM trusts WHERE tenant_id = ? AND name = ?", st.id, name))
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
func (st *Tenant) CreateTrustBinding(ctx context.Context, b store.TrustBinding) (store.TrustBinding, error) {
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
	err = st.inTx(ctx, func(x *tx) error {
		if _, err := x.exec(ctx, "INSERT INTO trust_bindings (tenant_id, id, trust_id, client_id, subject, conditions, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			st.id, b.ID, b.TrustID, b.ClientID, b.Subject, string(condJSON), st.ts(b.CreatedAt)); err != nil {
			return mapErr(err)
		}
		var err error
		out, err = scanBinding(x.queryRow(ctx, "SELECT "+bindingCols+" FROM trust_bindings b JOIN clients c ON c.tenant_id = b.tenant_id AND c.id = b.client_id "+
			"WHERE b.tenant_id = ? AND b.id = ?", st.id, b.ID))
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
func (st *Tenant) ListTrustBindings(ctx context.Context, f store.TrustBindingFilter) ([]store.TrustBinding, error) {
	w := where{conds: []string{"b.tenant_id = ?"}, args: []any{st.id}}
	if f.TrustID != "" {
		w.add("b.trust_id = ?", f.TrustID)
	}
	if f.ClientID != "" {
		w.add("b.client_id = ?", f.ClientID)
	}
	rows, err := st.query(ctx, "SELECT "+bindingCols+" FROM trust_bindings b JOIN clients c ON c.tenant_id = b.tenant_id AND c.id = b.client_id"+
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
func (st *Tenant) DeleteTrustBinding(ctx context.Context, id string) error {
	err := st.inTx(ctx, func(x *tx) error {
		n, err := deleted(x.exec(ctx, "DELETE FROM trust_bindings WHERE tenant_id = ? AND id = ?", st.id, id))
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
