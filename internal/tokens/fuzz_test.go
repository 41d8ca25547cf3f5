package tokens

import (
	"strings"
	"testing"
)

func FuzzParseJWT(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJFUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJ4In0.c2ln",
		"eyJhbGciOiJub25lIn0.e30.", "a.b.c", "..", "", "eyJ9.e30.e30", strings.Repeat("A", 100) + ".." + "x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := Parse(raw)
		if err != nil {
			return
		}
		if len(raw) > MaxTokenBytes {
			t.Fatal("oversized token parsed")
		}
		if !strings.HasPrefix(raw, string(p.SigningInput)+".") {
			t.Fatalf("signing input %q is not the token's prefix", p.SigningInput)
		}
		if p.Header.Alg == "" || len(p.Header.Crit) > 0 {
			t.Fatalf("accepted header %+v", p.Header)
		}
	})
}
