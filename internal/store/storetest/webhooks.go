package storetest

import (
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testWebhookSecrets(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	c := must(s.CreateClient(ctx, store.Client{ClientID: "hooked", Type: "confidential"}))(t)
	other := must(s.CreateClient(ctx, store.Client{ClientID: "other", Type: "confidential"}))(t)

	_, _, err := s.GetWebhookSecret(ctx, c.ID)
	wantErr(t, "no secret yet", err, store.ErrNotFound)
	wantErr(t, "secret for an unknown client", s.SetWebhookSecret(ctx, "no-such-client", []byte("x"), t0), store.ErrNotFound)

	noErr(t, s.SetWebhookSecret(ctx, c.ID, []byte("sealed-1"), t0))
	sealed, at := mustPair(s.GetWebhookSecret(ctx, c.ID))(t)
	eq(t, "sealed", string(sealed), "sealed-1")
	eqTime(t, "created_at", at, t0)

	noErr(t, s.SetWebhookSecret(ctx, c.ID, []byte("sealed-2"), t0.Add(time.Hour))) // rotation replaces
	sealed, at = mustPair(s.GetWebhookSecret(ctx, c.ID))(t)
	eq(t, "rotated", string(sealed), "sealed-2")
	eqTime(t, "rotated at", at, t0.Add(time.Hour))
	_, _, err = s.GetWebhookSecret(ctx, other.ID)
	wantErr(t, "other client has none", err, store.ErrNotFound)

	noErr(t, s.DeleteClient(ctx, "hooked"))
	_, _, err = s.GetWebhookSecret(ctx, c.ID)
	wantErr(t, "deleted with the client", err, store.ErrNotFound)
}

func mustPair[A, B any](a A, b B, err error) func(t *testing.T) (A, B) {
	return func(t *testing.T) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}
