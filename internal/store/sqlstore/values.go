package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/permiso-auth/permiso/internal/store"
)

// newID returns a random (version 4) UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// now is the store's clock for defaults such as CreatedAt, at the precision
// the database keeps.
func now() time.Time { return norm(time.Now()) }

// norm brings t to what a round trip through either database returns: UTC
// with microsecond precision. PostgreSQL rounds to microseconds, so we
// truncate first to make both engines agree.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

func normp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := norm(*t)
	return &v
}

// ts converts a time into the dialect's column value: Unix microseconds on
// SQLite, a timestamptz on PostgreSQL.
func (db *DB) ts(t time.Time) any {
	t = norm(t)
	if db.pg() {
		return t
	}
	return t.UnixMicro()
}

// tsp is ts for nullable columns.
func (db *DB) tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// tscan scans either dialect's time column into a UTC time.Time.
type tscan struct{ p *time.Time }

func (s tscan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.p = time.Time{}
	case int64:
		*s.p = time.UnixMicro(v).UTC()
	case time.Time:
		*s.p = v.UTC()
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// ntscan scans a nullable time column.
type ntscan struct{ p **time.Time }

func (s ntscan) Scan(src any) error {
	if src == nil {
		*s.p = nil
		return nil
	}
	var t time.Time
	if err := (tscan{&t}).Scan(src); err != nil {
		return err
	}
	*s.p = &t
	return nil
}

// nstr scans a nullable text column into a string ("" for NULL).
type nstr struct{ p *string }

func (s nstr) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.p = ""
	case string:
		*s.p = v
	case []byte:
		*s.p = string(v)
	default:
		return fmt.Errorf("scan string: unexpected %T", src)
	}
	return nil
}

// nullStr stores "" as NULL, for optional foreign keys.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonList scans a JSON array column; reads return a non-nil slice.
type jsonList struct{ p *[]string }

func (s jsonList) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("scan list: unexpected %T", src)
	}
	out := []string{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			return fmt.Errorf("scan list: %w", err)
		}
		if out == nil {
			out = []string{}
		}
	}
	*s.p = out
	return nil
}

// listArg encodes a list column; nil is stored as [].
func listArg(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// mapErr turns driver errors into store sentinels, keeping the original
// error in the chain for logs.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case isUnique(err):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case isForeignKey(err):
		// A write named a row that does not exist (a role with an unknown
		// scope id, a secret for an unknown client).
		return fmt.Errorf("%w: referenced row: %w", store.ErrNotFound, err)
	}
	return err
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY ||
			(c&0xff == sqlite3.SQLITE_CONSTRAINT && strings.Contains(se.Error(), "UNIQUE constraint failed"))
	}
	return false
}

func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY ||
			(c&0xff == sqlite3.SQLITE_CONSTRAINT && strings.Contains(se.Error(), "FOREIGN KEY constraint failed"))
	}
	return false
}

// limits turns a Page into LIMIT/OFFSET values: default 20, at most 1000.
func limits(p store.Page) (limit, offset int) {
	limit, offset = p.Limit, p.Offset
	if limit <= 0 {
		limit = 20
	}
	if limit > 1000 {
		limit = 1000
	}
	if offset < 0 {
		offset = 0
	}
	return limit, offset
}

// likeArg builds a substring pattern for LIKE ... ESCAPE '\'.
func likeArg(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// where accumulates AND-ed conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

// where starts the conditions of a query of the tenant's store with the
// tenant's own.
func (s *Tenant) where() where {
	return where{conds: []string{"tenant_id = ?"}, args: []any{s.id}}
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// inList returns "?, ?, ?" for n values and the values as []any.
func inList(ids []string) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// count runs a COUNT(*) query.
func count(ctx context.Context, r runner, q string, args ...any) (int, error) {
	var n int
	if err := r.queryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

// affected returns the rows a statement changed.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// deleted is affected for DELETE statements: a foreign-key failure there
// means the row is still referenced (say, a grant added concurrently after
// the usage check), which is ErrConflict.
func deleted(res sql.Result, err error) (int, error) {
	if err != nil && isForeignKey(err) {
		return 0, fmt.Errorf("%w: still referenced: %w", store.ErrConflict, err)
	}
	return affected(res, err)
}

// dedupe drops empty and repeated ids, keeping order, so a caller that lists
// a scope twice does not hit the join table's primary key.
func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// rawJSON scans a text column holding a JSON document; "" reads as nil.
type rawJSON struct{ p *json.RawMessage }

func (s rawJSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.p = nil
	case string:
		*s.p = nil
		if v != "" {
			*s.p = json.RawMessage(v)
		}
	case []byte:
		*s.p = nil
		if len(v) > 0 {
			*s.p = json.RawMessage(append([]byte(nil), v...))
		}
	default:
		return fmt.Errorf("scan JSON: unexpected %T", src)
	}
	return nil
}

// placeholders returns n comma-separated '?'.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// jsonValue scans a JSON text column into the value p points to; ” and
// NULL leave it zero.
type jsonValue struct{ p any }

func (s jsonValue) Scan(src any) error {
	var raw []byte
	switch v := src.(type) {
	case nil:
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		return fmt.Errorf("scan JSON value: unexpected %T", src)
	}
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, s.p); err != nil {
		return fmt.Errorf("scan JSON value: %w", err)
	}
	return nil
}
