package opaque_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/permiso-auth/permiso/internal/opaque"
)

func TestNew(t *testing.T) {
	tok, hash := opaque.New("pmx_")
	if !strings.HasPrefix(tok, "pmx_") || len(tok) != 4+43 || !bytes.Equal(hash, opaque.Hash(tok)) {
		t.Fatalf("New = %q, %x", tok, hash)
	}
	if other, _ := opaque.New("pmx_"); other == tok {
		t.Fatal("two tokens alike")
	}
}
