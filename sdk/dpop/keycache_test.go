package dpop

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestKeyCache(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := jose.JSONWebKey{Key: k.Public()}.MarshalJSON()
	var c keyCache
	a, err := c.parse(pub)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.parse(pub)
	if err != nil || a != b {
		t.Fatalf("second parse of the same bytes: %p %p %v", a, b, err)
	}
	want, _ := a.Thumbprint()
	if got, err := c.thumbprint(pub, a); err != nil || got != want {
		t.Fatalf("thumbprint %q, %v; want %q", got, err, want)
	}
	// Refused keys are refused every time and never kept.
	priv, _ := jose.JSONWebKey{Key: k}.MarshalJSON()
	for range 2 {
		if _, err := c.parse(priv); err == nil {
			t.Fatal("private key accepted")
		}
	}
	if _, ok := c.m[string(priv)]; ok {
		t.Fatal("a refused key was cached")
	}
	// The cache is bounded: distinct bytes (the same key under many kids).
	var m map[string]any
	json.Unmarshal(pub, &m)
	for i := range maxCachedKeys + 100 {
		m["kid"] = fmt.Sprint(i)
		raw, _ := json.Marshal(m)
		if _, err := c.parse(raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n > maxCachedKeys {
		t.Fatalf("%d cached keys, limit %d", n, maxCachedKeys)
	}
}
