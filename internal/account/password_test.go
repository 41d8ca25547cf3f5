package account

import (
	"strings"
	"testing"
)

var cheap = HashParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

// TestHashPassword is §7 item 97: salted, Argon2id PHC, verifies, and
// near-variants do not.
func TestHashPassword(t *testing.T) {
	a, err := HashPassword("Sunny!Meadow-42", cheap)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := HashPassword("Sunny!Meadow-42", cheap)
	if a == b {
		t.Fatal("same hash twice: no salt")
	}
	for _, h := range []string{a, b} {
		if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") || len(h) <= 60 || !IsPHC(h) {
			t.Fatalf("not a PHC string: %s", h)
		}
		if !VerifyPassword("Sunny!Meadow-42", h) {
			t.Fatal("does not verify")
		}
	}
	for _, wrong := range []string{"sunny!meadow-42", "Sunny!Meadow-43", "Sunny!Meadow-42 ", "", "password"} {
		if VerifyPassword(wrong, a) {
			t.Fatalf("%q verifies", wrong)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$" + strings.Repeat("A", 43)} {
		if VerifyPassword("x", bad) {
			t.Fatalf("malformed hash %q verifies", bad)
		}
	}
}

// TestOriginalHash verifies a PHC string made with the original Permiso's
// parameters (passlib: m=65536, t=3, p=1, 32-byte hash, 16-byte salt), so
// its users keep their passwords.
func TestOriginalHash(t *testing.T) {
	h, err := HashPassword("TestTrader123!", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=1$") {
		t.Fatalf("params: %s", h)
	}
	if !VerifyPassword("TestTrader123!", h) || VerifyPassword("TestTrader123?", h) {
		t.Fatal("original parameters do not round-trip")
	}
}

// BenchmarkHashPassword measures one Argon2id hash with the original's
// parameters: a login costs one such hash, so 1e9/ns-per-op is the
// logins per second one core sustains.
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("Sunny!Meadow-42", DefaultParams); err != nil {
			b.Fatal(err)
		}
	}
}
