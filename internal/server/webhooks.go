package server

import (
	"net/netip"
	"time"

	"github.com/permiso-auth/permiso/internal/keys"
	"github.com/permiso-auth/permiso/internal/outbound"
	"github.com/permiso-auth/permiso/internal/webhook"
)

// newWebhooks builds the webhook sender: secrets sealed under a key of
// their own derived from the master key, deliveries through the one
// outbound client with the operator's allowed internal prefixes, no
// redirects, and a small answer cap (only the status is used).
func newWebhooks(master []byte, label string, allow []netip.Prefix, now func() time.Time) (*webhook.Sender, error) {
	key, err := keys.DeriveKey(master, label)
	if err != nil {
		return nil, err
	}
	out := outbound.New(outbound.Config{Timeout: webhook.MaxTimeout, MaxBodyBytes: 64 << 10, MaxRedirects: -1,
		Allow: allow, UserAgent: "Permiso-Webhook"})
	return webhook.New(webhook.Config{Key: key, Outbound: out, Now: now})
}
