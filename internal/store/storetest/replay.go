package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/internal/store"
)

func testReplay(t *testing.T, s store.Store) {
	ctx := ctxT(t)
	k := []byte("0123456789abcdef0123456789abcdef")
	eq(t, "no records: zero last expiry", must(s.LastReplayExpiry(ctx))(t).IsZero(), true)
	eq(t, "first claim", must(s.ClaimReplay(ctx, k, t0.Add(time.Minute), t0))(t), true)
	eq(t, "second claim", must(s.ClaimReplay(ctx, k, t0.Add(time.Minute), t0.Add(time.Second)))(t), false)
	eq(t, "claim just before expiry", must(s.ClaimReplay(ctx, k, t0.Add(2*time.Minute), t0.Add(time.Minute-time.Microsecond)))(t), false)
	// Once the record has expired the key is free again: a JWT with that
	// jti would be refused for its exp anyway.
	eq(t, "claim after expiry", must(s.ClaimReplay(ctx, k, t0.Add(3*time.Minute), t0.Add(time.Minute)))(t), true)
	eq(t, "renewed record holds", must(s.ClaimReplay(ctx, k, t0.Add(3*time.Minute), t0.Add(2*time.Minute)))(t), false)
	other := []byte("another key")
	eq(t, "other key", must(s.ClaimReplay(ctx, other, t0.Add(time.Hour), t0))(t), true)
	eqTime(t, "last expiry", must(s.LastReplayExpiry(ctx))(t), t0.Add(time.Hour))

	eq(t, "delete expired", must(s.DeleteExpiredReplays(ctx, t0.Add(10*time.Minute)))(t), 1)
	eq(t, "deleted key is free", must(s.ClaimReplay(ctx, k, t0.Add(20*time.Minute), t0.Add(10*time.Minute)))(t), true)
	eq(t, "kept key still held", must(s.ClaimReplay(ctx, other, t0.Add(time.Hour), t0.Add(10*time.Minute)))(t), false)

	// Many callers at once (replicas racing on one replayed assertion):
	// exactly one wins.
	const n = 20
	race := []byte("raced key")
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			ok, err := s.ClaimReplay(ctx, race, t0.Add(time.Minute), t0)
			if err != nil {
				t.Errorf("concurrent claim: %v", err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	eq(t, "winners among concurrent claims", wins.Load(), int32(1))
}
