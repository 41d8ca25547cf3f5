package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/permiso-auth/permiso/internal/oauth"
	"github.com/permiso-auth/permiso/internal/rbac"
	"github.com/permiso-auth/permiso/internal/store"
)

// BootstrapClientID is the client_id of the admin client created on first start.
const BootstrapClientID = "permiso-admin"

// BootstrapFile is the name of the file, in the data directory, that holds
// the bootstrap admin credentials.
const BootstrapFile = "bootstrap-admin.json"

// loadMasterKey returns the configured master key, or the development key
// from the data directory, creating it on first start.
func loadMasterKey(configured, dataDir string, warn func(msg string, args ...any)) ([]byte, error) {
	if configured != "" {
		return []byte(configured), nil
	}
	path := filepath.Join(dataDir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key := strings.TrimSpace(string(b))
		if len(key) < 32 {
			return nil, fmt.Errorf("master key in %s is too short", path)
		}
		warn("using the development master key from the data directory; set --master-key (PERMISO_MASTER_KEY) in production", "path", path)
		return []byte(key), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	var raw [32]byte
	rand.Read(raw[:])
	key := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := writePrivate(path, []byte(key+"\n")); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	warn("generated a development master key in the data directory; set --master-key (PERMISO_MASTER_KEY) in production", "path", path)
	return []byte(key), nil
}

// writePrivate writes a file readable by its owner only, refusing to
// overwrite an existing one.
func writePrivate(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// bootstrapAdmin creates the admin client on first start, prints its
// credentials once to out and writes them to a 0600 file. The secret is
// never logged; later starts log where the file is. Replicas starting
// together agree through the store's lock.
func bootstrapAdmin(ctx context.Context, s store.Store, secrets *oauth.Secrets, dataDir string, out io.Writer, log *slog.Logger) error {
	return s.Lock(ctx, "bootstrap", func(ctx context.Context) error {
		if _, err := s.GetClient(ctx, BootstrapClientID); err == nil {
			path := filepath.Join(dataDir, BootstrapFile)
			if _, err := os.Stat(path); err == nil {
				log.Info("the bootstrap admin credentials are in the data directory (the CLI reads them there)",
					"client_id", BootstrapClientID, "path", path)
			} else {
				log.Info("the bootstrap admin client exists; its credentials file is not in this data directory",
					"client_id", BootstrapClientID, "path", path)
			}
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// The bootstrap administrator holds every scope there is (the admin
		// role's and every other seeded one): under the delegation rule an
		// administrator grants only what it holds, so this is what lets it
		// create the first admin user and the first service clients.
		var scopeIDs []string
		all, _, err := s.ListScopes(ctx, store.ScopeFilter{Page: store.Page{Limit: 1000}})
		if err != nil {
			return fmt.Errorf("list scopes: %w", err)
		}
		for _, sc := range all {
			scopeIDs = append(scopeIDs, sc.ID)
		}
		for _, name := range rbac.AdminScopes {
			if !slices.ContainsFunc(all, func(sc store.Scope) bool { return sc.Name == name }) {
				return fmt.Errorf("admin scope %s: %w", name, store.ErrNotFound)
			}
		}
		c, err := s.CreateClient(ctx, store.Client{
			ClientID: BootstrapClientID, Name: "Bootstrap administrator",
			Description: "Created on first start; holds every scope. Rotate its secret after setup.",
			Type:        "confidential", Active: true, Trusted: true,
			GrantTypes:          []string{"client_credentials"},
			ScopeIDs:            scopeIDs,
			AccessTokenLifetime: 3600, RateLimitPerMinute: 600, RateLimitPerHour: 10000,
		})
		if err != nil {
			return fmt.Errorf("create bootstrap client: %w", err)
		}
		secret, hash := secrets.Generate()
		if _, err := s.AddClientSecret(ctx, store.ClientSecret{ClientID: c.ID, Hash: hash}); err != nil {
			return fmt.Errorf("store bootstrap secret: %w", err)
		}
		b, _ := json.MarshalIndent(map[string]string{"client_id": BootstrapClientID, "client_secret": secret}, "", "  ")
		path := filepath.Join(dataDir, BootstrapFile)
		os.Remove(path) // a stale file from a wiped database must not survive
		if err := writePrivate(path, append(b, '\n')); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintf(out, "\nPermiso bootstrap admin client (shown once; also saved to %s, mode 0600):\n  client_id:     %s\n  client_secret: %s\n\n",
			path, BootstrapClientID, secret)
		return nil
	})
}
