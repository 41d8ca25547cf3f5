package storetest

import (
	"fmt"
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

	// Records decided elsewhere are written in one transaction: an
	// existing record keeps its later expiry, a key listed twice its latest.
	noErr(t, s.RecordReplays(ctx, nil))
	held, twice := []byte("held key"), []byte("listed twice")
	eq(t, "claim before the batch", must(s.ClaimReplay(ctx, held, t0.Add(30*time.Minute), t0))(t), true)
	batch := []store.ReplayRecord{{Key: held, ExpiresAt: t0.Add(10 * time.Minute)},
		{Key: twice, ExpiresAt: t0.Add(40 * time.Minute)}, {Key: twice, ExpiresAt: t0.Add(5 * time.Minute)}}
	for i := range 1200 { // more than one INSERT's worth
		batch = append(batch, store.ReplayRecord{Key: fmt.Appendf(nil, "batch %d", i), ExpiresAt: t0.Add(50 * time.Minute)})
	}
	noErr(t, s.RecordReplays(ctx, batch))
	eq(t, "batch kept the later expiry", must(s.ClaimReplay(ctx, held, t0.Add(time.Hour), t0.Add(20*time.Minute)))(t), false)
	eq(t, "batch wrote a twice-listed key's latest expiry", must(s.ClaimReplay(ctx, twice, t0.Add(time.Hour), t0.Add(35*time.Minute)))(t), false)
	eq(t, "first of the batch", must(s.ClaimReplay(ctx, []byte("batch 0"), t0.Add(time.Hour), t0.Add(45*time.Minute)))(t), false)
	eq(t, "last of the batch", must(s.ClaimReplay(ctx, []byte("batch 1199"), t0.Add(time.Hour), t0.Add(45*time.Minute)))(t), false)
	eq(t, "batch record expires", must(s.ClaimReplay(ctx, []byte("batch 7"), t0.Add(2*time.Hour), t0.Add(50*time.Minute)))(t), true)
	noErr(t, s.RecordReplays(ctx, []store.ReplayRecord{{Key: held, ExpiresAt: t0.Add(2 * time.Hour)}}))
	eq(t, "a later expiry extends the record", must(s.ClaimReplay(ctx, held, t0.Add(3*time.Hour), t0.Add(90*time.Minute)))(t), false)
}
