package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the server's own driver, to seed its file
)

// seededServer is a server of a scale scenario: started on a data
// directory of its own, given a template client through the admin API,
// stopped, seeded with bulk SQL (copies of the template, revocations), and
// started again, so it loads what was seeded as it would after a restart.
type seededServer struct {
	proc     *serverProcess
	dir      string // holds the data directory and the server log
	clientID string // the template client, and the secret every copy shares
	secret   string
	admin    string // an admin access token
}

// seedSpec says what to seed.
type seedSpec struct {
	clients     int // copies of the template client, named bench-NNNNNNN
	revocations int
	// tenants adds tenants bench-tNNNN, each with clientsPerTenant copies
	// of the template client (bench-0000001...) sharing its secret.
	tenants int
	secret  string // the template client's secret (set by startSeeded)
}

// benchClientID names the i-th seeded client (1-based).
func benchClientID(i int) string { return fmt.Sprintf("bench-%07d", i) }

// startSeeded starts a server, seeds it as spec says, and restarts it.
func startSeeded(ctx context.Context, cfg Config, log *slog.Logger, spec seedSpec) (_ *seededServer, err error) {
	dir, err := os.MkdirTemp("", "permiso-bench-seed-")
	if err != nil {
		return nil, fmt.Errorf("seeded server: %w", err)
	}
	ss := &seededServer{dir: dir}
	defer func() {
		if err != nil {
			ss.stop(log)
		}
	}()
	sc := startConfig{binary: cfg.ServerBinary, args: cfg.ServerArgs, logger: log, dataDir: filepath.Join(dir, "data"),
		timeout: 5 * time.Minute, pprof: true}
	if ss.proc, err = startServer(ctx, sc); err != nil {
		return ss, err
	}
	if err := ss.proc.readBootstrap(); err != nil {
		return ss, err
	}
	st := newSetup(ss.proc.baseURL, ss.proc.adminID, ss.proc.adminPW, 1, false)
	ss.clientID, ss.secret, err = st.createClient(ctx, map[string]any{"name": "bench template", "scope_ids": benchScopes,
		"access_token_lifetime": 3600, "rate_limit_per_minute": benchPerMinute, "rate_limit_per_hour": benchPerHour})
	st.client.CloseIdleConnections()
	if err != nil {
		return ss, err
	}
	ss.proc.stop(log)
	spec.secret = ss.secret
	log.Info("seeding", "clients", spec.clients, "revocations", spec.revocations, "tenants", spec.tenants)
	begin := time.Now()
	if err := seedSQLite(ctx, filepath.Join(sc.dataDir, "permiso.db"), ss.clientID, spec); err != nil {
		return ss, fmt.Errorf("seed: %w", err)
	}
	log.Info("seeded", "took", time.Since(begin).Round(time.Millisecond))
	if ss.proc, err = startServer(ctx, sc); err != nil {
		return ss, err
	}
	if err := ss.proc.readBootstrap(); err != nil {
		return ss, err
	}
	st = newSetup(ss.proc.baseURL, ss.proc.adminID, ss.proc.adminPW, 1, false)
	defer st.client.CloseIdleConnections()
	if ss.admin, err = st.admin(ctx); err != nil {
		return ss, err
	}
	return ss, nil
}

func (ss *seededServer) stop(log *slog.Logger) {
	if ss.proc != nil {
		ss.proc.stop(log)
	}
	if err := os.RemoveAll(ss.dir); err != nil {
		log.Warn("remove benchmark data", "err", err)
	}
}

// seedSQLite copies the template client spec.clients times (with its
// scopes and secret) and adds spec.revocations unexpired revocations, in
// one transaction of set-based statements. Column lists come from the
// schema, so columns later migrations add are copied too.
func seedSQLite(ctx context.Context, path, templateID string, spec seedSpec) error {
	if _, err := os.Stat(path); err != nil {
		return errors.New("the seeded scenarios need the embedded SQLite database (no --database-url)")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var tplUUID string
	if err := tx.QueryRowContext(ctx, "SELECT id FROM clients WHERE client_id = ?", templateID).Scan(&tplUUID); err != nil {
		return fmt.Errorf("template client: %w", err)
	}
	const uuid = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) ||
		'-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`
	const counter = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) `
	copyRows := func(with, table string, override map[string]string, from string, args ...any) error {
		cols, err := columns(ctx, tx, table)
		if err != nil {
			return err
		}
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = "t." + c
			if e, ok := override[c]; ok {
				exprs[i] = e
			}
		}
		q := with + "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") + " " + from
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	}
	if spec.clients > 0 {
		if err := copyRows(counter, "clients", map[string]string{"id": uuid, "client_id": "printf('bench-%07d', n.i)",
			"name": "'bench client ' || n.i", "total_requests": "0", "last_used": "NULL"},
			"FROM n, clients t WHERE t.client_id = ?", spec.clients, templateID); err != nil {
			return fmt.Errorf("copy clients: %w", err)
		}
		if err := copyRows("", "client_scopes", map[string]string{"client_id": "c.id"},
			"FROM clients c, client_scopes t WHERE c.client_id LIKE 'bench-%' AND t.client_id = ?", tplUUID); err != nil {
			return fmt.Errorf("copy client scopes: %w", err)
		}
		if err := copyRows("", "client_secrets", map[string]string{"id": uuid, "client_id": "c.id", "last_used": "NULL"},
			"FROM clients c, client_secrets t WHERE c.client_id LIKE 'bench-%' AND t.client_id = ?", tplUUID); err != nil {
			return fmt.Errorf("copy client secrets: %w", err)
		}
		// The statistics summary is counted again on its next read.
		if _, err := tx.ExecContext(ctx, "DELETE FROM client_stats WHERE tenant_id IS NOT NULL"); err != nil {
			return fmt.Errorf("reset client statistics: %w", err)
		}
	}
	if spec.tenants > 0 {
		if err := seedTenants(ctx, tx, filepath.Dir(path), templateID, tplUUID, spec.secret, uuid, counter, copyRows, spec.tenants); err != nil {
			return err
		}
	}
	if spec.revocations > 0 {
		// Random ids, as real ones are (128 bits): the feed's pages
		// compress as they would in production.
		now := time.Now()
		exp, created := now.Add(2*time.Hour).UnixMicro(), now.UnixMicro()
		if _, err := tx.ExecContext(ctx, counter+`INSERT INTO revocations (tenant_id, jti, expires_at, created_at)
			SELECT 'default', lower(hex(randomblob(16))), ?, ? FROM n`, spec.revocations, exp, created); err != nil {
			return fmt.Errorf("seed revocations: %w", err)
		}
	}
	return tx.Commit()
}

// columns lists a table's columns in order.
func columns(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no table %s", table)
	}
	return out, rows.Err()
}
