package account

import (
	"context"
	"testing"
	"time"
)

func TestHashPoolBoundsConcurrency(t *testing.T) {
	s := &Service{cfg: Config{HashParams: cheap}, hashes: newHashPool(1)}
	phc, err := HashPassword("Secret-Passw0rd!", cheap)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.hashes.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// The only slot is taken: a check waits, and gives up with its context.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if s.verify(short, "Secret-Passw0rd!", phc) {
		t.Fatal("a check ran while the pool was full")
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Fatal("the check did not wait for a slot")
	}
	s.hashes.release()
	if !s.verify(ctx, "Secret-Passw0rd!", phc) {
		t.Fatal("the check failed with a free slot")
	}
}

func TestDummyHashNeverMatchesAndCostsLikeARealOne(t *testing.T) {
	d := dummyHash(DefaultParams)
	p, salt, key, err := parsePHC(d)
	if err != nil || p.Memory != DefaultParams.Memory || p.Time != DefaultParams.Time || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("dummy %q: %+v %v", d, p, err)
	}
	if VerifyPassword("", d) || VerifyPassword("permiso dummy password", d) {
		t.Fatal("the dummy hash matched")
	}
}
