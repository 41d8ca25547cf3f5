package guard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/permiso-auth/permiso/sdk/wire"
)

// BenchmarkFeedPageDecode decodes one page of 50,000 entries and adds it
// to a snapshot being assembled.
func BenchmarkFeedPageDecode(b *testing.B) {
	f := wire.RevocationFeed{Type: wire.FeedSnapshot, Cursor: "9"}
	exp := time.Now().Add(time.Hour).Unix()
	for i := range 50_000 {
		f.Entries = append(f.Entries, wire.RevocationEntry{Kind: wire.RevokeJTI, Value: fmt.Sprintf("%022d", i), Exp: exp})
	}
	body, _ := json.Marshal(f)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var got wire.RevocationFeed
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&got); err != nil {
			b.Fatal(err)
		}
		set := map[string]map[string]int64{}
		add(set, got.Entries, 0)
	}
}
